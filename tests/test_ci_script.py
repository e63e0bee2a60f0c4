"""`.ci/run` runs exactly the README's set-up and test commands, and is a valid, executable bash script."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / ".ci" / "run"


def _readme_commands() -> tuple[str, str]:
    """The two indented commands at the top of the README: set-up, then test."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text.split("<!-- section:", 1)[0]
    commands = [line.strip() for line in head.splitlines() if re.match(r"^ {4}\S", line)]
    assert len(commands) == 2, f"the README must show exactly one set-up and one test command: {commands}"
    return commands[0], commands[1]


def test_ci_runs_the_readme_commands() -> None:
    setup, test = _readme_commands()
    lines = [line.strip() for line in CI.read_text(encoding="utf-8").splitlines()]
    assert setup in lines
    assert test in lines
    assert lines.index(setup) < lines.index(test)


def test_ci_installs_the_servers_and_sets_ci() -> None:
    text = CI.read_text(encoding="utf-8")
    for pkg in ("redis-server", "mariadb-server", "php-cli"):
        assert pkg in text
    assert "export CI=true" in text
    assert "-eq 5" in text  # "no tests collected" cannot pass


def test_ci_script_is_valid_bash() -> None:
    assert os.access(CI, os.X_OK)
    assert subprocess.run(["bash", "-n", str(CI)], capture_output=True).returncode == 0
