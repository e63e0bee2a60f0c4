"""The engine, CLI and renderers work without Textual; `--help` imports neither boto3 nor textual."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYN_ENV = {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}", "AME_DOCTOR_CHECK_MODULES": "synthetic_checks"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):  # function-level imports too
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_nothing_outside_doctor_tui_imports_textual() -> None:
    offenders = []
    for path in [*(ROOT / "doctor").rglob("*.py"), *(ROOT / "checks").rglob("*.py")]:
        if "tui" in path.relative_to(ROOT).parts or "__pycache__" in path.parts:
            continue
        if "textual" in _imports(path):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def _imported_modules(*args: str, env: dict[str, str] | None = None) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "doctor", *args], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=60,
                         stdin=subprocess.DEVNULL)
    mods = {line.split("|")[-1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")}
    return mods, res


def test_help_imports_neither_boto3_nor_textual() -> None:
    mods, res = _imported_modules("--help")
    assert res.returncode == 0 and "usage: ame-doctor" in res.stdout
    assert "doctor.cli" in mods  # the measurement itself works
    heavy = sorted(m for m in mods if m.split(".")[0] in ("boto3", "botocore", "textual", "rich", "moto"))
    assert heavy == []


def test_run_help_and_version_stay_light() -> None:
    for args in (["run", "--help"], ["version"]):
        mods, res = _imported_modules(*args)
        assert res.returncode == 0, res.stderr
        assert not any(m.split(".")[0] in ("boto3", "botocore", "textual") for m in mods), args


def test_engine_cli_and_renderers_work_with_textual_unimportable() -> None:
    code = (
        "import sys; sys.modules['textual'] = None\n"  # any `import textual` now raises ImportError
        "from doctor.cli import main\n"
        "sys.exit(main(['run', '--only', 'syn.ok,syn.warn', '--format', 'json']))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, **SYN_ENV}, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert [c["status"] for c in report["checks"]] == ["pass", "warn"]
    code_text = code.replace("'json'", "'text'")
    res = subprocess.run([sys.executable, "-c", code_text], capture_output=True, text=True, timeout=60,
                         env={**os.environ, **SYN_ENV}, stdin=subprocess.DEVNULL)
    assert res.returncode == 0 and "syn.warn" in res.stdout, res.stderr


def test_core_imports_do_not_pull_textual() -> None:
    code = ("import sys, doctor.engine, doctor.cli, doctor.render.text, doctor.render.json, doctor.facts\n"
            "from doctor.registry import load_checks; load_checks()\n"
            "import doctor.render as r; [r.render.__module__ for _ in r.available_formats()]\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
