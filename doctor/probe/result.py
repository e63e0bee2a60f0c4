"""What one probe run tells about one service, and the parser of the probe's output.

The probe prints one ``AMEPROBE {json}`` line per target (``t``: start, redis, mysql, dirs, env,
queues, end) and the shell wrapper prints ``AMEPROBE-EXIT <status>`` last. Everything else in the
output (pty CRLF, SSM banners, log prefixes) is ignored.

This module is the bottom of :mod:`doctor.probe`: it imports nothing from the package.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

MARK = "AMEPROBE"
EXIT_SENTINEL = "AMEPROBE-EXIT"


class TransportUnavailable(Exception):
    """The transport cannot run the probe for this service: the reason, the problem's kind
    (``plugin_missing``, ``exec_off``, ``exec_denied``, ...), its signals, the transport's own advice
    and the IAM action or flag that would unlock it."""

    def __init__(self, reason: str, *, kind: str = "exec_unavailable", signals: tuple[str, ...] = ("exec.unavailable",),
                 remediation: str = "", unlock: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.signals = signals
        self.remediation = remediation
        self.unlock = unlock


@dataclass
class ProbeResult:
    """What one probe run told us about one service (vantage ``task:<service>``)."""

    service: str
    transport: str
    ok: bool = False                       # the probe ran and reported its end line
    reason: str | None = None              # why not (transport unavailable, timeout, no output)
    problems: list[TransportUnavailable] = field(default_factory=list)  # e.g. plugin missing before fallback
    exit_status: int | None = None
    task: str | None = None                # task arn the probe ran in
    runtime: str | None = None             # php | bash | nc | none
    redis: dict[str, Any] | None = None
    mysql: dict[str, Any] | None = None
    dirs: dict[str, Any] | None = None
    env: dict[str, Any] | None = None
    queues: dict[str, Any] | None = None   # queue counts read inside the task (php runtime only)
    raw_lines: int = 0
    error: BaseException | None = None     # an unexpected exception (e.g. AWS AccessDenied) from the transport

    @property
    def vantage(self) -> str:
        return f"task:{self.service}"


def parse_output(text: str, result: ProbeResult) -> ProbeResult:
    """Fill ``result`` from probe output (pty CRLF, banners and log prefixes tolerated)."""
    for raw in text.replace("\r", "\n").split("\n"):
        line = raw.strip()
        if EXIT_SENTINEL in line:
            m = re.search(re.escape(EXIT_SENTINEL) + r"\s+(\d+)", line)
            if m:
                result.exit_status = int(m.group(1))
            continue
        idx = line.find(MARK + " {")
        if idx < 0:
            continue
        try:
            obj = json.loads(line[idx + len(MARK) + 1:])
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        result.raw_lines += 1
        t = obj.get("t")
        if t == "start":
            result.runtime = obj.get("rt")
        elif t == "redis":
            result.redis = obj
        elif t == "mysql":
            result.mysql = obj
        elif t == "dirs":
            result.dirs = obj
        elif t == "env":
            result.env = obj
        elif t == "queues":
            result.queues = obj
        elif t == "end":
            result.ok = True
            result.runtime = obj.get("rt") or result.runtime
    if not result.ok and result.reason is None:
        tail = " ".join(ln.strip() for ln in text.splitlines() if ln.strip() and EXIT_SENTINEL not in ln)[-300:]
        result.reason = ("the probe produced no output" if result.raw_lines == 0
                         else "the probe stopped before its end line") + (f": {tail}" if tail else "")
    return result
