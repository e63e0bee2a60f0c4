"""Each command registers itself once (its module holds its help line); --help imports no command's heavy code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from doctor.cli import build_parser
from doctor.commands import COMMANDS, load

ROOT = Path(__file__).resolve().parents[2]


def test_each_command_module_declares_its_interface() -> None:
    for cmd in COMMANDS:
        module = load(cmd)
        assert isinstance(module.HELP, str) and module.HELP, cmd
        assert callable(module.register) and callable(module.main), cmd


def test_the_help_line_shown_is_the_module_s_and_exists_once() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    shown = {a.dest: a.help for a in sub._choices_actions}  # type: ignore[attr-defined]
    assert list(shown) == list(COMMANDS)
    sources = {p: p.read_text(encoding="utf-8") for p in (ROOT / "doctor").rglob("*.py")}
    for cmd in COMMANDS:
        assert shown[cmd] == load(cmd).HELP
        copies = [p.relative_to(ROOT) for p, text in sources.items() if f'"{shown[cmd]}"' in text]
        assert len(copies) == 1, (cmd, copies)


def test_root_help_imports_no_command_code_nor_pydantic() -> None:
    code = ("import sys\nfrom doctor.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('pydantic', 'boto3', 'textual', 'rich', 'doctor.gate', 'doctor.diff', 'doctor.watch',"
            " 'doctor.rollout', 'doctor.runspec', 'doctor.model', 'doctor.sim') if m in sys.modules]\n"
            "print('HEAVY', heavy, file=sys.stderr)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in res.stderr, res.stderr
    for cmd in COMMANDS:
        assert cmd in res.stdout


def test_a_command_gets_its_full_parser() -> None:
    args = build_parser().parse_args(["gate", "--scale", "image=2"])
    assert args.scale == ["image=2"] and callable(args.handler)
