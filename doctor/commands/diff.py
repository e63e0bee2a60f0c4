"""``ame-doctor diff OLD.json NEW.json``: compare two saved reports (the comparison is doctor.diff)."""

from __future__ import annotations

import argparse

HELP = "compare two saved JSON reports: root causes first, then findings, statuses and verdicts that changed"
DESCRIPTION = ("Compare two reports written by `ame-doctor run --output X.json` (e.g. before and after a "
               "fix, or yesterday's and today's CI run). Exit 0 when nothing got worse, 1 when something did, "
               "2 when a file is not a readable report.")


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("old", metavar="OLD.json")
    p.add_argument("new", metavar="NEW.json")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format (default text)")


def main(args: argparse.Namespace, argv: list[str]) -> int:
    import json
    import sys

    from doctor.diff import diff_reports, render_text
    from doctor.model import EXIT_FINDINGS, EXIT_OK
    from doctor.saved import load_saved

    old, new = load_saved(args.old), load_saved(args.new)  # ReportError -> one line, exit 2 (cli.main)
    d = diff_reports(old, new)
    if args.format == "json":
        sys.stdout.write(json.dumps(d.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(d))
    return EXIT_FINDINGS if d.worse else EXIT_OK
