"""``ame-doctor version``: the version (``cli.main`` answers a bare ``version`` before parsing anything)."""

from __future__ import annotations

import argparse

from doctor import __version__

HELP = "print the version"


def register(p: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace, argv: list[str]) -> int:
    print(f"ame-doctor {__version__}")
    return 0  # EXIT_OK; doctor.model (pydantic) is not imported for this
