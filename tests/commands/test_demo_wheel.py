"""Packaging, end to end: the built wheel installed into a fresh, plain virtual environment (no
system site-packages, so every runtime dependency must be declared) runs `ame-doctor schema` and
`ame-doctor demo healthy`. Slow (pip resolves and installs the dependencies from the index), so one
test; CI runs it (.ci/run runs the whole suite, slow tests included)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
IGNORE = shutil.ignore_patterns(".git", "__pycache__", "build", "dist", "*.egg-info", ".venv", "venv",
                                ".pytest_cache", ".mypy_cache", ".ruff_cache", "*.pyc", "tests", "bench")


def _run(cmd: list[str], timeout: float, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          **kw)  # type: ignore[call-overload, no-any-return]


def test_wheel_in_a_fresh_venv_runs_the_demo_and_schema(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)  # build from a copy: nothing is left in the working tree
    dist = tmp_path / "dist"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)]
    res = _run(cmd, 300)
    if res.returncode != 0:  # no setuptools/wheel here: let pip fetch the build backend
        cmd.remove("--no-build-isolation")
        res = _run(cmd, 300)
    assert res.returncode == 0, res.stderr
    (wheel,) = dist.glob("ame_doctor-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(env_dir)
    py, exe = env_dir / "bin" / "python", env_dir / "bin" / "ame-doctor"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    res = _run([str(py), "-m", "pip", "install", "-q", f"{wheel}[demo]"], 900, env=env)
    assert res.returncode == 0, res.stdout + res.stderr

    outside = tmp_path / "elsewhere"  # not the source tree: only the installed package can be imported
    outside.mkdir()
    where = _run([str(py), "-c", "import doctor, checks, playbooks; print(doctor.__file__)"], 60, env=env, cwd=outside)
    assert where.returncode == 0 and str(env_dir) in where.stdout, where.stdout + where.stderr

    schema = _run([str(exe), "schema"], 120, env=env, cwd=outside)
    assert schema.returncode == 0, schema.stderr
    doc = json.loads(schema.stdout)
    assert "schema_version" in doc["properties"] and "checks" in doc["properties"]

    demo = _run([str(exe), "demo", "healthy", "--format", "json"], 600, env=env, cwd=outside)
    assert demo.returncode == 0, demo.stderr[-3000:]
    report = json.loads(demo.stdout)
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses.get("ssm.values") == "pass" and statuses.get("reach.redis") == "pass", demo.stderr[-3000:]
    assert "injected: no fault -> diagnosed" in demo.stderr
