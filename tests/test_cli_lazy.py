"""Extension commands are listed in --help without importing their modules; the help lines stay in sync."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

from doctor.cli import EXTENSION_COMMANDS, add_run_options, build_parser


def test_static_help_matches_what_each_module_registers() -> None:
    for cmd, (module, help_text) in EXTENSION_COMMANDS.items():
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers(dest="command")
        importlib.import_module(module).register(sub, add_run_options)
        registered = {a.dest: a.help for a in sub._choices_actions}
        assert registered == {cmd: help_text}, module


def test_root_help_imports_no_extension_module_nor_pydantic() -> None:
    code = ("import sys\nfrom doctor.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('pydantic', 'boto3', 'textual', 'rich', 'doctor.gate', 'doctor.diff', 'doctor.watch')"
            " if m in sys.modules]\nprint('HEAVY', heavy, file=sys.stderr)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in res.stderr, res.stderr
    for cmd in EXTENSION_COMMANDS:
        assert cmd in res.stdout


def test_a_command_gets_its_full_parser() -> None:
    args = build_parser(command="gate").parse_args(["gate", "--scale", "image=2"])
    assert args.scale == ["image=2"] and callable(args.handler)
