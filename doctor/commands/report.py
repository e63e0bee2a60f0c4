"""``ame-doctor report FILE``: re-render a saved JSON report in another format (an older report's root
causes are derived on reading, see doctor.saved)."""

from __future__ import annotations

import argparse

from doctor.commands.options import REPORT_FORMATS

HELP = "re-render a saved JSON report"


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("file")
    p.add_argument("--format", choices=REPORT_FORMATS, default="text")


def main(args: argparse.Namespace, argv: list[str]) -> int:
    import os
    import sys

    from doctor.model import EXIT_OK
    from doctor.outputs import check_format
    from doctor.render import render
    from doctor.saved import load_saved

    check_format(args.format)
    report = load_saved(args.file)
    color = args.format == "text" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    sys.stdout.write(render(report, args.format, color=color))
    return EXIT_OK
