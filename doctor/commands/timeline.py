"""``ame-doctor timeline``: what changed before it broke — the checks run (headless, with the timeline over
``--since``), then the changes tied to each root cause, every change and symptom on one axis, the leads and
the sources; or the timeline of a saved report (``--report FILE``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from doctor.commands.options import add_run_options

if TYPE_CHECKING:
    from doctor.model import Report

HELP = "what changed before it broke: changes and symptoms on one axis, tied to the root causes"
DESCRIPTION = ("Run the checks with the timeline over --since (default [timeline] since, 24h): CloudTrail writes, "
               "SSM parameter versions, ECS deployments and task stops, the first log line of each error signature, "
               "queue ages and Sentry's firstSeen; each root cause's changes nearest first. --report FILE shows the "
               "timeline of a saved JSON report instead. Formats: text, json (the timeline object), markdown.")
FORMATS = ("text", "json", "markdown")


def register(p: argparse.ArgumentParser) -> None:
    add_run_options(p)
    p.add_argument("--since", metavar="DURATION", help="look-back window: 90s, 30m, 6h, 2d, 1w (default 24h)")
    p.add_argument("--report", type=Path, metavar="FILE", help="show the timeline of a saved JSON report (no run)")


def main(args: argparse.Namespace, argv: list[str]) -> int:
    from doctor.errors import UsageError
    from doctor.model import EXIT_OK, load_report
    from doctor.util import parse_duration

    if args.format not in FORMATS:
        raise UsageError(f"--format {args.format}: the timeline is shown as {', '.join(FORMATS)}")
    if args.since is not None:
        try:
            parse_duration(args.since)
        except ValueError as e:
            raise UsageError(f"--since: {e}") from None
    if args.report is not None:
        if args.since is not None:
            raise UsageError("--since applies to a run; a saved report keeps the window it was run with")
        sys.stdout.write(show(load_report(str(args.report)), args.format))
        return EXIT_OK
    return run(args, argv)


def show(report: Report, fmt: str) -> str:
    """The timeline of ``report`` in ``fmt`` (json: the timeline object)."""
    from doctor.render.markdown import code, esc
    from doctor.render.timeline import markdown_section, render_text

    if fmt == "json":
        return report.timeline.model_dump_json(indent=2) + "\n"
    if fmt == "markdown":
        return "\n".join(markdown_section(report, esc, code, code)) + "\n"
    return render_text(report)


def run(args: argparse.Namespace, argv: list[str]) -> int:
    import asyncio

    from doctor.model import EXIT_CANNOT_RUN, EXIT_INTERRUPTED
    from doctor.outputs import write_file
    from doctor.render import render
    from doctor.render.text import ProgressPrinter
    from doctor.runspec import build_run_spec

    spec = build_run_spec(args, argv, output_default="json")
    spec.config.timeline.enabled = True
    if args.since is not None:
        spec.config.timeline.since = args.since
    why = spec.preflight()
    if why:
        print(f"ame-doctor: cannot run: {why}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    engine = spec.engine()
    engine.subscribe(ProgressPrinter(sys.stderr, sys.stderr.isatty()))
    try:
        report = asyncio.run(engine.run())
    except KeyboardInterrupt:
        print("ame-doctor: interrupted: no timeline", file=sys.stderr)
        return EXIT_INTERRUPTED
    sys.stdout.write(engine.redactor.scrub(show(report, spec.fmt)))
    for fmt, path in spec.outputs:
        try:
            write_file(path, engine.redactor.scrub(render(report, fmt)))
        except OSError as e:
            print(f"ame-doctor: cannot write {fmt} report to {path}: {e.strerror or e}", file=sys.stderr)
            return EXIT_CANNOT_RUN
        print(f"ame-doctor: wrote {fmt} report to {path}", file=sys.stderr)
    return report.exit_code
