"""Command line: parse, dispatch, and turn errors into one line and an exit code.

Each subcommand is a module of ``doctor.commands`` (its name, help line and arguments live there);
their top levels import only argparse, so ``ame-doctor --help`` loads no pydantic, boto3 or Textual.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any, NoReturn

from doctor import __version__
from doctor.commands import COMMANDS, load, module_name
from doctor.errors import UsageError

DESCRIPTION = (
    "Diagnose the AME queue platform: SSM values, SG ingress, DNS, Redis/Aurora reachability, "
    "S3, ECS startup, .env drift, queue state — in incident-priority order, mapped to the symptom playbooks. "
    "With no command: the TUI on a terminal, else `run`.")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2 (argparse's own convention too): see main()
        raise UsageError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ame-doctor", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"ame-doctor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        try:
            module = load(command)
        except ModuleNotFoundError as e:  # a build without this command
            if e.name == module_name(command):
                continue
            raise
        p = sub.add_parser(command, help=module.HELP, description=getattr(module, "DESCRIPTION", None))
        module.register(p)
        p.set_defaults(handler=module.main)
    return parser


def _normalise_argv(argv: list[str]) -> list[str]:
    if argv and (argv[0] in ("-h", "--help", "--version") or not argv[0].startswith("-")):
        return argv
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    return ["tui" if interactive else "run", *argv]


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv``; with none, the process's own (the console script, ``python -m doctor``),
    which then ends as soon as its output is flushed (:func:`exit_now`)."""
    if argv is None:
        few_malloc_arenas()
        exit_now(_main(sys.argv[1:]))
    return _main(list(argv))


def few_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas for this process (as MALLOC_ARENA_MAX would), before any thread starts: every
    check runs in a thread, and one arena per thread left a full run's peak RSS ~16 MB higher (bench_faults)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # no mallopt (musl, macOS): nothing to cap
        ctypes.CDLL(None).mallopt(-8, arenas)  # M_ARENA_MAX, from the libc the interpreter is linked with


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` once stdout and stderr are flushed, skipping the interpreter's teardown:
    freeing every loaded AWS model and module costs a narrow run a third of its time, and nothing is left to
    do (outputs are written and closed, the servers a demo started are stopped, no atexit work is ours)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError, ValueError):  # the reader went away, or the stream closed
            stream.flush()
    os._exit(code)


def _main(argv: list[str]) -> int:
    raw = list(argv)
    if raw in (["version"], ["--version"]):  # fast path: no parser, no command modules
        print(f"ame-doctor {__version__}")
        return 0  # EXIT_OK (doctor.model, i.e. pydantic, is not loaded for this)
    try:
        parser = build_parser()
        args = parser.parse_args(_normalise_argv(raw))
        handler = getattr(args, "handler", None)
        if handler is None:  # unreachable in practice: _normalise_argv always names a command
            from doctor.model import EXIT_USAGE

            parser.print_help()
            return EXIT_USAGE
        return int(handler(args, raw))
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        from doctor.model import EXIT_INTERRUPTED

        print("ame-doctor: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:
        return _report_error(e)


def _report_error(e: Exception) -> int:
    """Bad input: one line, exit 2; a broken check: exit 3; anything else is a bug: one scrubbed line, exit 3."""
    from doctor.config import ConfigError  # imported here: `--help` and `version` stay light
    from doctor.model import EXIT_CANNOT_RUN, EXIT_USAGE, ReportError
    from doctor.outputs import OutputError
    from doctor.registry import RegistryError

    if isinstance(e, UsageError | ConfigError | ReportError):
        print(f"ame-doctor: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(e, OutputError):  # the run happened; its report could not be written
        print(f"ame-doctor: {e}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    if isinstance(e, RegistryError):  # a broken or duplicate check: the doctor cannot run
        print(f"ame-doctor: cannot run: {e}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    if os.environ.get("AME_DOCTOR_DEBUG"):
        raise e
    msg = f"{type(e).__name__}: {e}"
    runspec = sys.modules.get("doctor.runspec")  # an engine was built: scrub with its redactor
    redactor = runspec.active_redactor() if runspec is not None else None
    if redactor is not None:
        msg = redactor.scrub(msg)
    print(f"ame-doctor: internal error: {msg} (set AME_DOCTOR_DEBUG=1 for the traceback)", file=sys.stderr)
    return EXIT_CANNOT_RUN
