"""The probe script and the command that carries it into the task.

``probe.sh`` (with ``probe.php`` embedded as a here-document) ships as package data. The command sets
the probe's inputs as environment variables, decodes the compressed script and runs it where the worker
runs: php when the image has it (Laravel's own config, real AUTH/PING, a PDO login), else ``bash``
``/dev/tcp`` or ``nc``. It reads the container's own environment, so no secret travels in the command,
and no key either: only the doctor's Diffie-Hellman public value (:mod:`doctor.probe.keys`).
"""

from __future__ import annotations

import base64
import gzip
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from doctor.probe.keys import KeyExchange
from doctor.probe.result import EXIT_SENTINEL

# RunTask: "a total of 8192 characters are allowed for overrides" (JSON included). ExecuteCommand's
# model states no maximum; the same budget is used for both, leaving room for the override JSON.
MAX_COMMAND_CHARS = 7600
PHP_PLACEHOLDER = "@PHP@"


def script_text(name: str) -> str:
    return resources.files("doctor.probe").joinpath(name).read_text(encoding="utf-8")


# PHP source tokens: quoted strings (kept verbatim), // comments, whitespace, anything else
_PHP_TOKEN = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|//[^\n]*|\s+|[^'"\s/]+|/""", re.S)
_DELIMS = set("(){}[];,")
_OPERATORS = set("=.<>!?:&|+-*/%^~@")


def _minify_php(src: str) -> str:
    """Comments dropped and whitespace removed wherever one side is a delimiter or an operator and the
    other is not (so ``- -``, ``? >``, ``/ /`` and ``1 . 2`` keep theirs); strings are kept verbatim."""
    tokens = [t for t in _PHP_TOKEN.findall(src) if not t.startswith("//")]
    out: list[str] = []
    for i, tok in enumerate(tokens):
        if not tok.isspace():
            out.append(tok)
            continue
        if not out or out[-1] == " " or i + 1 == len(tokens) or tokens[i + 1].isspace():
            continue
        a, b = out[-1][-1], tokens[i + 1][0]
        joinable = (a in _DELIMS or b in _DELIMS or (a in _OPERATORS) != (b in _OPERATORS))
        if joinable and not (a == "." and b.isdigit() or b == "." and a.isdigit()):
            continue
        out.append(" ")
    return "".join(out)


def _minify_sh(src: str) -> str:
    """Comment lines and indentation dropped outside here-documents, which are kept verbatim."""
    out = []
    end: str | None = None
    for ln in src.splitlines():
        if end is not None:
            out.append(ln)
            end = None if ln == end else end
            continue
        s = ln.strip()
        if not s or s.startswith("#"):
            continue
        out.append(s)
        m = re.search(r'<<"(\w+)"', s)
        end = m.group(1) if m else None
    return "\n".join(out) + "\n"


def _variant(src: str, keep: str) -> str:
    """Keep the ``#>keep`` ... ``#<keep`` blocks of probe.sh, drop every other variant's block."""
    out: list[str] = []
    block: str | None = None
    for ln in src.splitlines():
        m = re.fullmatch(r"#([<>])(\w+)", ln)
        if m:
            block = m.group(2) if m.group(1) == ">" else None
        elif block is None or block == keep:
            out.append(ln)
    return "\n".join(out) + "\n"


def probe_source(variant: str = "full") -> str:
    """probe.sh (``full``: with the network probe for containers without php; ``short``: without) with
    probe.php in its php here-document, minified: what runs in the task."""
    sh = _minify_sh(_variant(script_text("probe.sh"), variant))
    php = _minify_php(script_text("probe.php"))
    if sh.count(PHP_PLACEHOLDER) != 1 or "\nEOP\n" in php:
        raise ValueError("probe.sh must hold the php placeholder once, and probe.php no EOP line")
    return sh.replace(PHP_PLACEHOLDER, php)


@cache
def payload(variant: str = "full") -> str:
    """base64 of the gzipped probe (decoded in the task with ``base64 -d | gzip -dc``: coreutils/busybox)."""
    return base64.b64encode(gzip.compress(probe_source(variant).encode(), 9, mtime=0)).decode()


@dataclass(frozen=True)
class ProbeSpec:
    """What one probe run is told. No secret and no key: the container's own environment has the values,
    and the fingerprint key is agreed with ``exchange`` (only its public value is in the command)."""

    timeout: float = 3.0             # per connect / read, seconds
    app_root: str | None = None      # None: the first usual Laravel root with artisan (see probe.sh)
    root_source: str | None = None   # where app_root came from: config | workdir | local
    run_as: str | None = None        # the worker's user: "self", name|uid[:group]; None: the worker process's
    resolve: dict[str, str] = field(default_factory=dict)  # host -> IP (like curl --resolve)
    queues: list[str] = field(default_factory=list)  # Laravel queues whose counts the probe reads
    exchange: KeyExchange = field(default_factory=KeyExchange, repr=False, compare=False)

    def inputs(self) -> dict[str, str]:
        """The probe's environment variables: every value the command carries."""
        env = {"AME_PROBE_DH": self.exchange.public_b64, "AME_PROBE_TIMEOUT": f"{self.timeout:g}"}
        if self.app_root:
            env["AME_PROBE_ROOT"] = self.app_root
            if self.root_source:
                env["AME_PROBE_ROOT_SRC"] = self.root_source
        if self.run_as:
            env["AME_PROBE_USER"] = self.run_as
        if self.queues:
            env["AME_PROBE_QUEUES"] = ",".join(self.queues)
        if self.resolve:
            env["AME_PROBE_RESOLVE"] = ",".join(f"{h}={ip}" for h, ip in sorted(self.resolve.items()))
        for k, v in env.items():
            if not re.fullmatch(r"[A-Za-z0-9+/=._:,\-]*", v):
                raise ValueError(f"probe input {k} has characters that cannot be passed safely")
        return env

    def shell_script(self, variant: str = "full") -> str:
        """The ``sh -c`` body: set the probe's inputs, decode and run the probe, print the exit sentinel.

        Only [A-Za-z0-9+/=._:,-] appear inside values, so it survives the SSM agent's argument
        splitting inside double quotes and needs no escaping in a RunTask command override.
        """
        env = self.inputs()
        assigns = " ".join(f"{k}={v}" for k, v in env.items())
        # no "$" anywhere: the string means the same whether or not a shell parses it before sh -c does
        return (f"{assigns}; export {' '.join(env)}; if echo {payload(variant)} | base64 -d | gzip -dc | sh; "
                f"then echo {EXIT_SENTINEL} 0; else echo {EXIT_SENTINEL} 1; exit 1; fi")

    def remote_script(self) -> str:
        """The body for ECS (ExecuteCommand, RunTask): the full probe when it fits the command budget, else
        the short one (an image without php then says so instead of probing the network)."""
        for variant in ("full", "short"):
            script = self.shell_script(variant)
            if len(script) + len('sh -c ""') <= MAX_COMMAND_CHARS:
                return script
        raise ValueError(f"probe command is {len(script) + 8} characters, over the {MAX_COMMAND_CHARS} budget")

    def exec_command(self) -> str:
        """The single string for ``ecs.execute_command(command=...)``."""
        return f'sh -c "{self.remote_script()}"'

    def task_command(self) -> list[str]:
        """The RunTask ``containerOverrides[].command``."""
        return ["sh", "-c", self.remote_script()]
