"""``ame-doctor tui`` (and bare ``ame-doctor`` on a terminal): the checks in the interactive TUI."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from doctor.commands.options import add_run_options

if TYPE_CHECKING:
    from doctor.runspec import RunSpec

HELP = "run the checks in the interactive TUI"


def register(p: argparse.ArgumentParser) -> None:
    add_run_options(p)


def available() -> bool:
    """Whether this build has the TUI (Textual installed)."""
    try:
        import doctor.tui.app  # noqa: F401
    except ImportError:
        return False
    return True


def main(args: argparse.Namespace, argv: list[str]) -> int:
    if not available():
        from doctor.commands import run

        print("ame-doctor: the TUI is not available in this build; running headless", file=sys.stderr)
        return run.main(args, argv)
    from doctor.runspec import build_run_spec

    if args.no_color:
        os.environ["NO_COLOR"] = "1"  # Textual renders monochrome; statuses are words anyway
    return run_live(build_run_spec(args, argv, output_default="json", validate_inputs=False))


def run_live(spec: RunSpec) -> int:
    """The TUI over a live run of ``spec``; the report goes to ``spec.outputs`` when the user quits."""
    from doctor.model import EXIT_CANNOT_RUN
    from doctor.outputs import write_file
    from doctor.render import render
    from doctor.tui.app import DoctorApp
    from doctor.tui.source import LiveSource

    source = LiveSource(spec)
    why = source.preflight()
    if why:
        print(f"ame-doctor: cannot run: {why}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    app = DoctorApp(source)
    app.run()
    report = app.state.report
    if report is not None:
        for fmt, path in spec.outputs:
            write_file(path, render(report, fmt))
            print(f"ame-doctor: wrote {fmt} report to {path}", file=sys.stderr)
    return app.exit_code()
