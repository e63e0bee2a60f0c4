"""In-task probes: the probe script, its command, the result parser, and the shared per-service result.

The probe (``probe.sh`` + ``probe.php``, shipped as package data) runs where the worker runs and
prints one ``AMEPROBE {json}`` line per target (Redis, MySQL), plus the runtime directories and the
effective Redis prefix / DB with keyed fingerprints of DB_HOST / REDIS_HOST / APP_KEY / DB_PASSWORD.
It reads the container's own environment, so no secret travels in the command; only the per-run
HMAC key does (hex), and fingerprints come back in the same construction as
``Redactor.fingerprint``.

``probe_results(facts, service)`` runs the configured transport once per service per run
(memoised in ``facts``) so reach.redis, reach.aurora and queue.state share one probe.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import zlib
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from doctor.facts import Facts

MARK = "AMEPROBE"
EXIT_SENTINEL = "AMEPROBE-EXIT"
# RunTask: "a total of 8192 characters are allowed for overrides" (JSON included). ExecuteCommand's
# model states no maximum; the same budget is used for both, leaving room for the override JSON.
MAX_COMMAND_CHARS = 7600
PLUGIN_INSTALL_HINT = (
    "Install the Session Manager plugin: https://docs.aws.amazon.com/systems-manager/latest/userguide/"
    "session-manager-working-with-install-plugin.html (Debian/Ubuntu: download session-manager-plugin.deb and "
    "`sudo dpkg -i session-manager-plugin.deb`; macOS: `brew install --cask session-manager-plugin`), "
    "or run with `--exec probe-task` (no plugin needed) or set `[exec] fallback = \"probe-task\"`."
)


class TransportUnavailable(Exception):
    """The transport cannot run the probe for this service (reason, signals, fix)."""

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


def script_text(name: str) -> str:
    return resources.files("doctor.probe").joinpath(name).read_text(encoding="utf-8")


def _minify_php(src: str) -> str:
    src = re.sub(r"^<\?php\s*", "", src)
    lines = [ln.strip() for ln in src.splitlines()]
    return "\n".join(ln for ln in lines if ln and not ln.startswith("//"))


def _minify_sh(src: str) -> str:
    out = []
    in_heredoc = False
    for ln in src.splitlines():
        if in_heredoc:
            out.append(ln)
            in_heredoc = ln != "EOS"
            continue
        s = ln.strip()
        if not s or s.startswith("#"):
            continue
        out.append(s)
        in_heredoc = '<<"EOS"' in s
    return "\n".join(out) + "\n"


def php_payload() -> str:
    """base64 of raw-deflated probe.php (decoded in the task by php itself: gzinflate)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = comp.compress(_minify_php(script_text("probe.php")).encode()) + comp.flush()
    return base64.b64encode(data).decode()


def sh_payload() -> str:
    """base64 of gzipped probe.sh (decoded in the task with ``base64 -d | gzip -dc``: coreutils/busybox)."""
    import gzip

    return base64.b64encode(gzip.compress(_minify_sh(script_text("probe.sh")).encode(), 9, mtime=0)).decode()


@dataclass(frozen=True)
class ProbeSpec:
    key_hex: str                     # the run's fingerprint key (Redactor.key), hex
    timeout: float = 3.0             # per connect / read, seconds
    app_root: str | None = None      # default: the container's working directory
    resolve: dict[str, str] = field(default_factory=dict)  # host -> IP (like curl --resolve)
    queues: list[str] = field(default_factory=list)  # Laravel queues whose counts the probe reads

    def shell_script(self) -> str:
        """The ``sh -c`` body: set the probe's inputs, decode and run probe.sh, print the exit sentinel.

        Only [A-Za-z0-9+/=._:,-] appear inside values, so it survives the SSM agent's argument
        splitting inside double quotes and needs no escaping in a RunTask command override.
        """
        env = {"AME_PROBE_KEY": self.key_hex, "AME_PROBE_TIMEOUT": f"{self.timeout:g}",
               "AME_PROBE_PHP": php_payload()}
        if self.app_root:
            env["AME_PROBE_ROOT"] = self.app_root
        if self.queues:
            env["AME_PROBE_QUEUES"] = ",".join(self.queues)
        if self.resolve:
            env["AME_PROBE_RESOLVE"] = ",".join(f"{h}={ip}" for h, ip in sorted(self.resolve.items()))
        for k, v in env.items():
            if not re.fullmatch(r"[A-Za-z0-9+/=._:,\-]*", v):
                raise ValueError(f"probe input {k} has characters that cannot be passed safely")
        assigns = " ".join(f"{k}={v}" for k, v in env.items())
        # no "$" anywhere: the string means the same whether or not a shell parses it before sh -c does
        return (f"{assigns}; export {' '.join(env)}; if echo {sh_payload()} | base64 -d | gzip -dc | sh; "
                f"then echo {EXIT_SENTINEL} 0; else echo {EXIT_SENTINEL} 1; exit 1; fi")

    def exec_command(self) -> str:
        """The single string for ``ecs.execute_command(command=...)``."""
        cmd = f'sh -c "{self.shell_script()}"'
        if len(cmd) > MAX_COMMAND_CHARS:
            raise ValueError(f"probe command is {len(cmd)} characters, over the {MAX_COMMAND_CHARS} budget")
        return cmd

    def task_command(self) -> list[str]:
        """The RunTask ``containerOverrides[].command``."""
        self.exec_command()  # size check
        return ["sh", "-c", self.shell_script()]


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


# --- shared results -------------------------------------------------------------------------
def probe_spec(facts: Facts, transport: str) -> ProbeSpec:
    """The spec for this run: the redactor's key, a connect timeout derived from ``[exec] timeout``."""
    cfg = facts.config.exec
    timeout = max(1.0, min(5.0, cfg.timeout / 6))
    root = cfg.app_root
    if transport == "local" and root is None:
        import os

        root = os.getcwd()
    queues = [q for q in [*facts.config.queues, "default"] if re.fullmatch(r"[A-Za-z0-9._:-]+", q)]
    return ProbeSpec(key_hex=facts.redactor.key.hex(), timeout=timeout, app_root=root, queues=queues)


def probe_results(facts: Facts, service: str) -> ProbeResult:
    """The probe of ``service`` for this run: configured transport, then ``[exec] fallback``. Memoised."""

    def run() -> ProbeResult:
        from doctor.probe.transports import get_transport

        cfg = facts.config.exec
        chain = [cfg.transport] + ([cfg.fallback] if cfg.fallback not in (cfg.transport, "off") else [])
        problems: list[TransportUnavailable] = []
        for name in chain:
            try:
                res = get_transport(name).run(facts, service, probe_spec(facts, name))
            except TransportUnavailable as e:
                problems.append(e)
                continue
            res.problems = problems + res.problems
            return res
        last = problems[-1] if problems else TransportUnavailable("no exec transport")
        return ProbeResult(service=service, transport=chain[-1], reason="; ".join(p.reason for p in problems)
                           or last.reason, problems=problems)

    return facts.memo(("probe", service), run)


def probe_all(facts: Facts, services: list[str], deadline: float) -> dict[str, ProbeResult]:
    """Probe every service concurrently; a probe not done by ``deadline`` seconds is reported as such."""
    results: dict[str, ProbeResult] = {}
    lock = threading.Lock()

    def one(svc: str) -> None:
        try:
            r = probe_results(facts, svc)
        except Exception as e:  # AWS errors etc. surface as the probe's reason
            r = ProbeResult(service=svc, transport=facts.config.exec.transport, reason=f"{type(e).__name__}: {e}")
            r.error = e
        with lock:
            results[svc] = r

    threads = [threading.Thread(target=one, args=(s,), name=f"probe-{s}", daemon=True) for s in services]
    for t in threads:
        t.start()
    import time

    end = time.monotonic() + deadline
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    with lock:
        for s in services:
            if s not in results:
                results[s] = ProbeResult(service=s, transport=facts.config.exec.transport,
                                         reason=f"the probe did not finish within {deadline:g}s")
        return dict(results)
