"""What one probe run tells about one service, and the parser of the probe's output.

The probe prints one ``AMEPROBE {json}`` line per target (``t``: dirs, start, redis, mysql, env,
queues, end) and the shell wrapper prints ``AMEPROBE-EXIT <status>`` last. Everything else in the
output (pty CRLF, SSM banners, log prefixes) is ignored. The start line carries the probe's public key;
with the doctor's side of the exchange it gives the key the probe's fingerprints are made with.

This module sits above :mod:`doctor.probe.keys` only.
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any

from doctor.probe.keys import KeyExchange, fingerprint
from doctor.redact import clip

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
    """What one probe run told us about one task of one service (vantage ``task:<service>``)."""

    service: str
    transport: str
    ok: bool = False                       # the probe ran and reported its end line
    reason: str | None = None              # why not (transport unavailable, timeout, no output)
    problems: list[TransportUnavailable] = field(default_factory=list)  # e.g. plugin missing before fallback
    exit_status: int | None = None
    task: str | None = None                # task arn the probe ran in
    revision: str | None = None            # its task definition, family:revision
    service_revision: str | None = None    # the service's current task definition, family:revision
    subnet: str | None = None
    az: str | None = None
    running_tasks: int | None = None       # RUNNING tasks of the service when it was probed
    runtime: str | None = None             # php | bash | nc | none
    redis: dict[str, Any] | None = None
    mysql: dict[str, Any] | None = None
    dirs: dict[str, Any] | None = None
    env: dict[str, Any] | None = None
    queues: dict[str, Any] | None = None   # queue counts read inside the task (php runtime only)
    raw_lines: int = 0
    error: BaseException | None = None     # an unexpected exception (e.g. AWS AccessDenied) from the transport
    fingerprint_key: bytes | None = field(default=None, repr=False)  # agreed with this probe run only
    fingerprint_note: str | None = None    # why there is no key (no php, no openssl, exchange failed)

    @property
    def vantage(self) -> str:
        return f"task:{self.service}"

    @property
    def task_id(self) -> str | None:
        return self.task.rsplit("/", 1)[-1] if self.task else None

    @property
    def old_revision(self) -> bool:
        """The task runs another revision than the service's current one."""
        return bool(self.revision and self.service_revision and self.revision != self.service_revision)

    @property
    def label(self) -> str:
        """``task 1a2b3c4d (rev 41, service on rev 42, subnet-0ab, eu-west-1a)``: what tells it from its siblings."""
        where = [f"rev {self.revision.rsplit(':', 1)[-1]}"] if self.revision else []
        if self.old_revision:
            where.append(f"service on rev {str(self.service_revision).rsplit(':', 1)[-1]}")
        where += [x for x in (self.subnet, self.az) if x]
        name = f"task {self.task_id[:8]}" if self.task_id and self.task != "local" else "task"
        return name + (f" ({', '.join(where)})" if where else "")

    def fingerprint(self, value: str | None) -> str | None:
        """``value``'s fingerprint under this run's key: equal to the probe's exactly when the values are."""
        if value is None or self.fingerprint_key is None:
            return None
        return fingerprint(self.fingerprint_key, value)

    def matches(self, name: str, value: str | None) -> bool | None:
        """Whether the container's ``name`` (DB_HOST, REDIS_HOST, APP_KEY, DB_PASSWORD) equals ``value``;
        None when either side is unknown."""
        theirs = ((self.env or {}).get("fp") or {}).get(name)
        ours = self.fingerprint(value)
        return None if theirs is None or ours is None else hmac.compare_digest(theirs, ours)


def parse_output(text: str, result: ProbeResult, exchange: KeyExchange | None = None) -> ProbeResult:
    """Fill ``result`` from probe output (pty CRLF, banners and log prefixes tolerated); with ``exchange``
    (the doctor's side of this run's key exchange) also the fingerprint key."""
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
            _agree(result, obj.get("dh"), exchange)
        elif t == "redis":
            result.redis = obj
        elif t == "mysql":
            result.mysql = obj
        elif t == "dirs":
            result.dirs = obj
        elif t == "env":
            result.env = obj
            result.fingerprint_note = result.fingerprint_note or obj.get("fp_note")
        elif t == "queues":
            result.queues = obj
        elif t == "end":
            result.ok = True
            result.runtime = obj.get("rt") or result.runtime
    if not result.ok and result.reason is None:
        tail = clip(" ".join(ln.strip() for ln in text.splitlines() if ln.strip() and EXIT_SENTINEL not in ln), 300,
                    keep_end=True)
        result.reason = ("the probe produced no output" if result.raw_lines == 0
                         else "the probe stopped before its end line") + (f": {tail}" if tail else "")
    return result


def _agree(result: ProbeResult, peer: Any, exchange: KeyExchange | None) -> None:
    if exchange is None or not isinstance(peer, str):
        return
    try:
        result.fingerprint_key = exchange.shared_key(peer)
    except ValueError as e:
        result.fingerprint_note = f"the probe's public key was refused: {e}"
