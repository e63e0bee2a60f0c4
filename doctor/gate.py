"""Transitional: ``ame-doctor gate``'s entry for the CLI's old EXTENSION_COMMANDS table.

The command is ``doctor.commands.gate`` (HELP, DESCRIPTION, register, main), built on ``doctor.rollout``.
Delete this module once doctor/cli.py dispatches through ``doctor.commands``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from doctor.commands import gate as command


def _main(args: argparse.Namespace, argv: list[str]) -> int:
    from doctor.errors import UsageError

    try:
        return command.main(args, argv)
    except UsageError as e:  # the old CLI knows only its own UsageError: same line, same exit code
        print(f"ame-doctor: error: {e}", file=sys.stderr)
        return 2


def register(sub: Any, add_run_options: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("gate", help=command.HELP, description=command.DESCRIPTION)
    command.register(p)
    p.set_defaults(handler=_main)
