"""``ame-doctor run``: the checks headless (CI); stdout in the chosen format, exit code per the contract."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from doctor.commands.options import add_run_options

if TYPE_CHECKING:
    from doctor.runspec import RunSpec

HELP = "run the checks headless (CI); exit code per the contract"


def register(p: argparse.ArgumentParser) -> None:
    add_run_options(p)


def main(args: argparse.Namespace, argv: list[str]) -> int:
    from doctor.runspec import build_run_spec

    return run_headless(build_run_spec(args, argv))


def run_headless(spec: RunSpec) -> int:
    """Run ``spec`` with progress on stderr, the report on stdout and in its output files."""
    import asyncio

    from doctor.model import EXIT_CANNOT_RUN, EXIT_INTERRUPTED
    from doctor.outputs import OutputError, write_file
    from doctor.render import render
    from doctor.render.text import ProgressPrinter
    why = spec.preflight()
    if why:
        print(f"ame-doctor: cannot run: {why}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    engine = spec.engine(timeline=not spec.only)  # a narrow run is for speed: `ame-doctor timeline --only` has both
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
    spec.symptom_first(report)
    color = spec.fmt == "text" and sys.stdout.isatty() and not spec.no_color and "NO_COLOR" not in os.environ
    sys.stdout.write(engine.redactor.scrub_output(render(report, spec.fmt, color=color), spec.fmt))
    for fmt, path in spec.outputs:
        try:
            write_file(path, engine.redactor.scrub_output(render(report, fmt), fmt))
        except OutputError as e:
            print(f"ame-doctor: {e} ({fmt} report)", file=sys.stderr)
            return EXIT_CANNOT_RUN
        print(f"ame-doctor: wrote {fmt} report to {path}", file=sys.stderr)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        try:
            from doctor.render.github import annotations
        except ImportError:
            pass
        else:
            sys.stdout.write(engine.redactor.scrub_output(annotations(report), "text"))
    if interrupted:
        print("ame-doctor: interrupted; partial report written (unfinished checks are 'skipped')", file=sys.stderr)
        return EXIT_INTERRUPTED
    why_not = engine.why_cannot_run(report)
    if why_not:
        print(f"ame-doctor: cannot run: {engine.redactor.scrub(why_not)}", file=sys.stderr)
    return report.exit_code
