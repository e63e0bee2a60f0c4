"""The engine never needs Textual: only ``doctor/tui/`` may import it (DESIGN: the layering)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def textual_imports(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        if any(n == "textual" or n.startswith("textual.") for n in names):
            lines.append(node.lineno)
    return lines


def test_no_module_outside_doctor_tui_imports_textual() -> None:
    tui = ROOT / "doctor" / "tui"
    offenders = []
    for base in ("doctor", "checks", "playbooks"):
        for path in sorted((ROOT / base).rglob("*.py")):
            if tui in path.parents:
                continue
            offenders += [f"{path.relative_to(ROOT)}:{line}" for line in textual_imports(path)]
    assert offenders == [], f"only doctor/tui/ may import textual: {offenders}"


def test_the_scan_sees_an_import() -> None:  # the guard above can fail
    assert textual_imports(ROOT / "doctor" / "tui" / "app.py")


def test_core_runs_without_loading_textual() -> None:
    code = (
        "import sys\n"
        "import doctor.cli, doctor.engine, doctor.model, doctor.registry, doctor.render, doctor.diagnosis\n"
        "import doctor.tui, doctor.tui.cli\n"
        "doctor.registry.all_checks()\n"
        "doctor.cli.build_parser()\n"
        "print(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
