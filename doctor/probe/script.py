"""The probe script and the command that carries it into the task.

``probe.sh`` + ``probe.php`` ship as package data. The command sets the probe's inputs as
environment variables, decodes the compressed scripts and runs them where the worker runs: with
``php`` when the image has it (Laravel's own config, real AUTH/PING and MySQL greeting), else with
``bash`` ``/dev/tcp`` or ``nc``. It reads the container's own environment, so no secret travels in
the command; only the run's HMAC key does (hex), and fingerprints come back in the same
construction as ``Redactor.fingerprint``.
"""

from __future__ import annotations

import base64
import gzip
import re
import zlib
from dataclasses import dataclass, field
from importlib import resources

from doctor.probe.result import EXIT_SENTINEL

# RunTask: "a total of 8192 characters are allowed for overrides" (JSON included). ExecuteCommand's
# model states no maximum; the same budget is used for both, leaving room for the override JSON.
MAX_COMMAND_CHARS = 7600


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
