"""A built wheel (what `pip install .` installs) ships the checks, the playbooks and the probe scripts, and
declares the console script."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IGNORE = shutil.ignore_patterns(".git", "__pycache__", "build", "dist", "*.egg-info", ".venv", "venv",
                                ".pytest_cache", ".mypy_cache", ".ruff_cache", "*.pyc", "tests", "bench")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """Build from a copy of the tree, so the build leaves nothing behind in the working tree."""
    work = tmp_path_factory.mktemp("pkg")
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    out = work / "dist"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if res.returncode != 0:  # e.g. no `wheel` installed: let pip fetch the build backend from the index
        cmd.remove("--no-build-isolation")
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    wheels = list(out.glob("ame_doctor-*.whl"))
    assert len(wheels) == 1, wheels
    return zipfile.ZipFile(wheels[0])


def test_wheel_ships_checks(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    expected = {f"checks/{p.name}" for p in (ROOT / "checks").glob("*.py")}
    assert "checks/ssm_values.py" in expected
    assert expected <= names, sorted(expected - names)


def test_wheel_ships_playbooks(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "playbooks/__init__.py" in names
    expected = {f"playbooks/{p.name}" for p in (ROOT / "playbooks").glob("*.md")}
    assert expected <= names, sorted(expected - names)


def test_wheel_ships_probe_and_every_doctor_package(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / "doctor" / "probe").iterdir()
                if p.is_file() and p.suffix in (".py", ".sh", ".php")}
    assert {"doctor/probe/probe.sh", "doctor/probe/probe.php"} <= expected
    assert expected <= names, sorted(expected - names)
    packages = {p.parent.relative_to(ROOT).as_posix() + "/__init__.py" for p in (ROOT / "doctor").rglob("__init__.py")
                if "__pycache__" not in p.parts}
    assert packages <= names, sorted(packages - names)
    assert not any(n.startswith(("tests/", "bench/")) for n in names)


def test_wheel_declares_console_script(wheel: zipfile.ZipFile) -> None:
    ep = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    text = wheel.read(ep).decode()
    assert "[console_scripts]" in text and "ame-doctor = doctor.cli:main" in text
