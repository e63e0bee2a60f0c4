"""``ame-doctor view REPORT.json``: browse a saved report in the TUI, read-only."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

EXIT_USAGE = 2


def register(subparsers: Any, add_run_options: Callable[[argparse.ArgumentParser], None]) -> None:
    p = subparsers.add_parser(
        "view", help="open a saved JSON report in the TUI, read-only (browse an incident attachment later)")
    p.add_argument("report", metavar="REPORT.json", help="a report written by `ame-doctor run --output`")
    p.set_defaults(handler=cmd_view)


def cmd_view(args: argparse.Namespace, argv: list[str]) -> int:
    from doctor.model import ReportError, load_report

    try:
        report = load_report(args.report)
    except ReportError as e:
        print(f"ame-doctor: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    from doctor.tui.app import run_view

    return run_view(scrub_saved(report))


def scrub_saved(report: Any) -> Any:
    """Defence in depth for a file from elsewhere: mask values under secret-looking keys and URL
    credentials again (a report written by ame-doctor is already redacted; fingerprints survive)."""
    from doctor.model import Report
    from doctor.redact import Redactor

    data = Redactor().scrub_obj(report.model_dump(mode="json", by_alias=True))
    return Report.model_validate(data)
