"""The interactive TUI (Textual). Importing this package does not import Textual.

``run_tui`` is what ``ame-doctor tui`` (and bare ``ame-doctor`` on a terminal) calls;
``ame-doctor view REPORT.json`` is registered by ``doctor.tui.cli``.
"""

from __future__ import annotations

import argparse


def run_tui(args: argparse.Namespace, argv: list[str]) -> int:
    from doctor.tui.app import run_live

    return run_live(args, argv)


__all__ = ["run_tui"]
