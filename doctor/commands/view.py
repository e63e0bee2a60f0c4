"""``ame-doctor view REPORT.json``: browse a saved report in the TUI, read-only."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from doctor.model import Report
    from doctor.tui.app import DoctorApp

HELP = "open a saved JSON report in the TUI, read-only (browse an incident attachment later)"


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("report", metavar="REPORT.json", help="a report written by `ame-doctor run --output`")


def main(args: argparse.Namespace, argv: list[str]) -> int:
    from doctor.model import EXIT_OK, EXIT_USAGE, ReportError
    from doctor.saved import load_saved

    try:
        report = load_saved(args.report)  # an older report's root causes derived (doctor.saved)
    except ReportError as e:
        print(f"ame-doctor: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    viewer(report).run()
    return EXIT_OK


def viewer(report: Report) -> DoctorApp:
    """The read-only TUI on a saved report (scrubbed again; a report with a root cause opens on it)."""
    from doctor.tui.app import DoctorApp

    return DoctorApp(None, scrub_saved(report), metas=check_metas())


def check_metas() -> list[object]:
    """The registered checks' metadata (the why-it-matters text); none when a check module is broken."""
    try:
        from doctor.registry import all_checks

        return [c.meta for c in all_checks()]
    except Exception:  # a bonus: a broken plugin must not block viewing
        return []


def scrub_saved(report: Report) -> Report:
    """Defence in depth for a file from elsewhere: mask values under secret-looking keys and URL
    credentials again (a report written by ame-doctor is already redacted; fingerprints survive)."""
    from doctor.model import Report
    from doctor.redact import Redactor

    data = Redactor().scrub_obj(report.model_dump(mode="json", by_alias=True))
    return Report.model_validate(data)
