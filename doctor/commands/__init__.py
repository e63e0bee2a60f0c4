"""The subcommands: one module per command, each registering itself once.

``COMMANDS`` below is the only list of them (its order is the order in ``ame-doctor --help``); the
module of a command is its name with ``-`` -> ``_`` (``iam-policy`` -> ``doctor.commands.iam_policy``).
Each module defines, at top level importing only argparse/stdlib and ``doctor.commands.options`` (so
``ame-doctor --help`` imports no pydantic, boto3, rich or textual; heavy imports go inside ``main``)::

    HELP = "the one line shown in `ame-doctor --help`"     # the only copy of it
    DESCRIPTION = "longer text for `ame-doctor CMD --help`"  # optional

    def register(p: argparse.ArgumentParser) -> None:
        '''Add the command's arguments to ``p`` (the subparser the CLI created with HELP/DESCRIPTION).'''

    def main(args: argparse.Namespace, argv: list[str]) -> int:
        '''Run it; ``argv`` is the command line after ``ame-doctor``. Returns the exit code.'''

Commands that run checks add the shared options with ``doctor.commands.options.add_run_options(p)``
and build what the run needs with ``doctor.runspec.build_run_spec(args, argv)`` -> ``RunSpec``
(config, check selection, outputs, argv; ``spec.engine()`` constructs the engine,
``spec.preflight()`` says why AWS cannot be reached). Bad input: raise
``doctor.errors.UsageError`` (the CLI prints one line, exit 2). Output files:
``doctor.outputs.parse_outputs`` / ``write_file``. Exit codes: ``doctor.model`` (EXIT_OK,
EXIT_FINDINGS, EXIT_USAGE, EXIT_CANNOT_RUN, EXIT_INTERRUPTED). Nothing in doctor.tui imports this
package: commands hand the TUI a built ``RunSpec`` (or a report).
"""

from __future__ import annotations

import importlib
from types import ModuleType

COMMANDS = ("run", "tui", "checks", "schema", "report", "version", "playbooks", "diff", "demo", "gate", "watch",
            "iam-policy", "view", "timeline")


def module_name(command: str) -> str:
    return f"{__name__}.{command.replace('-', '_')}"


def load(command: str) -> ModuleType:
    return importlib.import_module(module_name(command))
