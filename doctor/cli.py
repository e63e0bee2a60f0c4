"""Command line: parse, dispatch. Heavy imports (boto3, textual, rich) happen inside subcommands."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Any

from doctor import __version__

EXIT_USAGE = 2
EXIT_CANNOT_RUN = 3
EXIT_INTERRUPTED = 130
_ACTIVE_REDACTOR: Any = None  # the running engine's redactor: unexpected errors are scrubbed too
CORE_COMMANDS = ("run", "tui", "checks", "schema", "report", "version")
# Subcommands owned by other modules: each exposes register(subparsers) and keeps heavy imports lazy.
# command -> (module, one-line help). The module is imported only when its command runs (or its own
# --help is asked for), so `ame-doctor --help` stays light; a test keeps these help lines in sync.
EXTENSION_COMMANDS = {
    "playbooks": ("doctor.playbook_cli", "list the four symptom playbooks, or print one (causes, signals, next steps)"),
    "diff": ("doctor.diff", "compare two saved JSON reports: findings appeared/resolved/persisted, status and verdict changes"),
    "demo": ("doctor.demo", "see the doctor work with no AWS account: a simulated production with one injected fault"),
    "gate": ("doctor.gate", "decide whether a scale change or cutover step is safe (never performs it)"),
    "watch": ("doctor.watch", "observe the soak window: backlog trend, drain rate, restarts, new errors"),
    "iam-policy": ("doctor.iam", "print the IAM policy the doctor needs (from the checks' metadata)"),
    "view": ("doctor.tui.cli", "open a saved JSON report in the TUI, read-only (browse an incident attachment later)"),
}
EXTENSION_MODULES = tuple(dict.fromkeys(module for module, _ in EXTENSION_COMMANDS.values()))


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2 (argparse's own convention too)
        self.exit(EXIT_USAGE, f"ame-doctor: error: {message} (see --help)\n")


def add_run_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("target and selection")
    g.add_argument("--config", type=Path, help="TOML config (default: $AME_DOCTOR_CONFIG, else ./ame-doctor.toml)")
    g.add_argument("--cluster", help="ECS cluster (default propertyfeedtemplate-production)")
    g.add_argument("--region", help="AWS region (default: the standard AWS chain)")
    g.add_argument("--profile", help="AWS profile (default: the standard AWS chain)")
    g.add_argument("--env-file", type=Path, help="the web tier's prod .env, for env.drift")
    g.add_argument("--exec", dest="exec_transport", choices=["ecs-exec", "probe-task", "local", "off"],
                   help="how to run the in-task probe")
    g.add_argument("--symptom", metavar="PLAYBOOK",
                   help="run the checks of this playbook first and show it on top (see `ame-doctor playbooks`)")
    g.add_argument("--only", action="append", default=[], metavar="ID", help="run only these check ids (repeatable, or comma-separated)")
    g.add_argument("--skip", action="append", default=[], metavar="ID", help="skip these check ids")
    o = p.add_argument_group("output and exit")
    o.add_argument("--format", choices=["text", "json", "junit", "markdown"], default="text", help="stdout format")
    o.add_argument("--output", action="append", default=[], metavar="[FORMAT=]PATH",
                   help="also write the report to PATH (format from FORMAT= or the extension); repeatable")
    o.add_argument("--fail-on", choices=["info", "warning", "error", "critical"], help="exit 1 at or above this severity (default error)")
    o.add_argument("--strict", action="store_true", default=None, help="unknown or error checks also exit 1")
    o.add_argument("--timeout", type=float, help="global deadline in seconds (default 120)")
    o.add_argument("--concurrency", type=int, help="checks running at once (default 8)")
    o.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    g.add_argument("--sample", type=float, metavar="SECONDS",
                   help="queue.state: read the queues over SECONDS for drain rate and time to empty (default: one reading)")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``command``, only that extension command's module is imported."""
    parser = _Parser(
        prog="ame-doctor",
        description="Diagnose the AME queue platform: SSM values, SG ingress, DNS, Redis/Aurora reachability, "
        "S3, ECS startup, .env drift, queue state — in incident-priority order, mapped to the symptom playbooks. "
        "With no command: the TUI on a terminal, else `run`.",
    )
    parser.add_argument("--version", action="version", version=f"ame-doctor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    run = sub.add_parser("run", help="run the checks headless (CI); exit code per the contract")
    add_run_options(run)
    tui = sub.add_parser("tui", help="run the checks in the interactive TUI")
    add_run_options(tui)
    ch = sub.add_parser("checks", help="list the checks in incident-priority order, or explain one")
    ch.add_argument("id", nargs="?", help="a check id: show what it checks, why it matters, the fix")
    ch.add_argument("--format", choices=["text", "json"], default="text")
    sub.add_parser("schema", help="print the JSON Schema of the report")
    rep = sub.add_parser("report", help="re-render a saved JSON report")
    rep.add_argument("file")
    rep.add_argument("--format", choices=["text", "json", "junit", "markdown"], default="text")
    sub.add_parser("version", help="print the version")
    for cmd, (name, help_text) in EXTENSION_COMMANDS.items():
        if command is not None and cmd != command:
            sub.add_parser(cmd, help=help_text, add_help=False)  # placeholder: listed in --help, not imported
            continue
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        module.register(sub, add_run_options)
    return parser


def _normalise_argv(argv: list[str]) -> list[str]:
    if argv and (argv[0] in ("-h", "--help", "--version") or not argv[0].startswith("-")):
        return argv
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    return ["tui" if interactive else "run", *argv]


def _split_ids(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def load_config_from_args(args: argparse.Namespace) -> Any:
    from doctor.config import load_config

    overrides = {
        "ecs.cluster": getattr(args, "cluster", None),
        "aws.region": getattr(args, "region", None),
        "aws.profile": getattr(args, "profile", None),
        "env.file": str(args.env_file) if getattr(args, "env_file", None) else None,
        "exec.transport": getattr(args, "exec_transport", None),
        "run.fail_on": getattr(args, "fail_on", None),
        "run.strict": getattr(args, "strict", None),
        "run.timeout": getattr(args, "timeout", None),
        "run.concurrency": getattr(args, "concurrency", None),
        "run.sample": getattr(args, "sample", None),
    }
    return load_config(getattr(args, "config", None), overrides)


def select_checks(args: argparse.Namespace) -> tuple[list[Any], list[str], list[str]]:
    from doctor.registry import all_checks

    checks = all_checks()
    valid = [c.id for c in checks]
    only, skip = _split_ids(args.only), _split_ids(args.skip)
    unknown = [i for i in only + skip if i not in valid]
    if unknown:
        raise UsageError(f"unknown check id {', '.join(unknown)}; valid ids: {', '.join(valid)}")
    return checks, only, skip


def check_format(fmt: str) -> str:
    """``fmt`` if a renderer for it is installed, else a usage error listing the available ones."""
    from doctor.render import available_formats

    formats = available_formats()
    if fmt not in formats:
        raise UsageError(f"unknown or unavailable output format {fmt!r}; available: {', '.join(formats)}")
    return fmt


def parse_outputs(values: list[str], default_format: str) -> list[tuple[str, Path]]:
    """``--output [FORMAT=]PATH`` values -> (format, path); the format defaults from the extension."""
    from doctor.render import EXTENSIONS

    out = []
    for v in values:
        fmt, sep, path = v.partition("=")
        if sep and fmt.isidentifier():  # FORMAT=PATH (a path never looks like `word=`)
            if not path:
                raise UsageError(f"--output {v}: missing PATH after '='")
            out.append((check_format(fmt), Path(path)))
        elif not v:
            raise UsageError("--output: empty PATH")
        else:
            p = Path(v)
            fmt = EXTENSIONS.get(p.suffix.lower(), default_format if default_format != "text" else "json")
            out.append((check_format(fmt), p))
    return out


def write_file(path: Path, text: str) -> None:
    """Write atomically: a crash never leaves half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def preflight_aws(config: Any, checks: list[Any]) -> str | None:
    """Why the doctor cannot talk to AWS at all (exit 3), or None."""
    if not any("aws" in c.meta.needs for c in checks):
        return None
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.Session(region_name=config.aws.region, profile_name=config.aws.profile)
        creds = session.get_credentials()
    except BotoCoreError as e:
        return f"AWS session could not be created: {e}"
    if creds is None:
        return "no AWS credentials found (use --profile, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
    if not session.region_name:
        return "no AWS region (use --region, AWS_REGION, or [aws] region in the config)"
    return None


def cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    import asyncio

    from doctor.engine import Engine, EngineOptions
    from doctor.render import render
    from doctor.render.text import ProgressPrinter

    config = load_config_from_args(args)
    checks, only, skip = select_checks(args)
    check_format(args.format)
    env_file = getattr(args, "env_file", None)
    if env_file is not None and not env_file.is_file():  # bad input: one line, exit 2 (DESIGN section 8)
        raise UsageError(f"--env-file {env_file}: {'is a directory' if env_file.is_dir() else 'no such file'}")
    outputs = parse_outputs(args.output, args.format)
    symptom = getattr(args, "symptom", None)
    priority: list[str] = []
    if symptom:
        from doctor.diagnosis import checks_for_playbook

        priority = checks_for_playbook(symptom)
    why = preflight_aws(config, [c for c in checks if (not only or c.id in only) and c.id not in skip])
    if why:
        print(f"ame-doctor: cannot run: {why}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    engine = Engine(config, checks, EngineOptions(only=only, skip=skip, priority=priority, argv=["ame-doctor", *argv]))
    global _ACTIVE_REDACTOR
    _ACTIVE_REDACTOR = engine.redactor
    engine.subscribe(ProgressPrinter(sys.stderr, sys.stderr.isatty()))
    interrupted = False
    try:
        report = asyncio.run(engine.run())
    except KeyboardInterrupt:
        interrupted = True
        if engine.report is None:
            print("ame-doctor: interrupted before any result", file=sys.stderr)
            return EXIT_INTERRUPTED
        report = engine.report
    if symptom:
        report.playbooks.sort(key=lambda p: p.id != symptom)
    color = args.format == "text" and sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ
    sys.stdout.write(engine.redactor.scrub(render(report, args.format, color=color)))
    for fmt, path in outputs:
        try:
            write_file(path, engine.redactor.scrub(render(report, fmt)))
        except OSError as e:
            print(f"ame-doctor: cannot write {fmt} report to {path}: {e.strerror or e}", file=sys.stderr)
            return EXIT_CANNOT_RUN
        print(f"ame-doctor: wrote {fmt} report to {path}", file=sys.stderr)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        try:
            from doctor.render.github import annotations
        except ImportError:
            pass
        else:
            sys.stdout.write(engine.redactor.scrub(annotations(report)))
    if interrupted:
        print("ame-doctor: interrupted; partial report written (unfinished checks are 'skipped')", file=sys.stderr)
        return EXIT_INTERRUPTED
    return report.exit_code


def cmd_checks(args: argparse.Namespace) -> int:
    import json

    from doctor.registry import all_checks

    checks = all_checks()
    if args.id:
        match = [c for c in checks if c.id == args.id]
        if not match:
            raise UsageError(f"unknown check id {args.id}; valid ids: {', '.join(c.id for c in checks)}")
        m = match[0].meta
        if args.format == "json":
            print(json.dumps(m.model_dump(mode="json"), indent=2))
            return 0
        print(f"{m.id} — {m.title} (order {m.order}, default severity {m.severity.value})\n")
        print(f"What it checks\n  {m.proves}\n\nWhy it matters\n  {m.why}\n\nFix\n  {m.remediation}\n")
        if m.iam_actions:
            print("IAM actions\n  " + "\n  ".join(m.iam_actions) + "\n")
        if m.depends_on:
            print("Depends on\n  " + ", ".join(m.depends_on))
        return 0
    if args.format == "json":
        print(json.dumps([c.meta.model_dump(mode="json") for c in checks], indent=2))
        return 0
    width = max(len(c.meta.title) for c in checks)
    for c in checks:
        needs = ",".join(c.meta.needs) or "-"
        print(f"{c.meta.order:>3}  {c.id:<14} {c.meta.title:<{width}}  needs: {needs}")
    return 0


def cmd_schema() -> int:
    import json

    from doctor.model import Report

    print(json.dumps(Report.model_json_schema(by_alias=True), indent=2))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from doctor.model import load_report
    from doctor.render import render

    check_format(args.format)
    report = load_report(args.file)
    color = args.format == "text" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    sys.stdout.write(render(report, args.format, color=color))
    return 0


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw in (["version"], ["--version"]):  # fast path: no parser, no extension modules
        print(f"ame-doctor {__version__}")
        return 0
    argv = _normalise_argv(raw)
    parser = build_parser(command=argv[0] if argv else "")
    args = parser.parse_args(argv)
    try:
        return _dispatch(parser, args, raw)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("ame-doctor: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:
        return _report_error(e)


def _report_error(e: Exception) -> int:
    """Bad input: one line, exit 2; a broken check: exit 3; anything else is a bug: one scrubbed line, exit 3."""
    from doctor.config import ConfigError  # imported here: `--help` and `version` stay light
    from doctor.model import ReportError
    from doctor.registry import RegistryError

    if isinstance(e, UsageError | ConfigError | ReportError):
        print(f"ame-doctor: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(e, RegistryError):  # a broken or duplicate check: the doctor cannot run
        print(f"ame-doctor: cannot run: {e}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    if os.environ.get("AME_DOCTOR_DEBUG"):
        raise e
    msg = f"{type(e).__name__}: {e}"
    if _ACTIVE_REDACTOR is not None:
        msg = _ACTIVE_REDACTOR.scrub(msg)
    print(f"ame-doctor: internal error: {msg} (set AME_DOCTOR_DEBUG=1 for the traceback)", file=sys.stderr)
    return EXIT_CANNOT_RUN


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace, raw: list[str]) -> int:
    if args.command == "run":
        return cmd_run(args, raw)
    if args.command == "tui":
        try:
            from doctor.tui import run_tui
        except ImportError:
            print("ame-doctor: the TUI is not available in this build; running headless", file=sys.stderr)
            return cmd_run(args, raw)
        return int(run_tui(args, raw))
    if args.command == "checks":
        return cmd_checks(args)
    if args.command == "schema":
        return cmd_schema()
    if args.command == "report":
        return cmd_report(args)
    if args.command == "version":
        print(f"ame-doctor {__version__}")
        return 0
    handler = getattr(args, "handler", None)
    if handler is not None:
        return int(handler(args, raw))
    parser.print_help()
    return EXIT_USAGE
