"""``ame-doctor run`` when there is nothing to see: AWS refused or silent is exit 3, decided early (the
reachability call) rather than by every check timing out; a run that gathered no evidence is never exit 0;
Ctrl-C leaves no traceback and the partial report says 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from support.netfaults import SilentServer

SYN_ENV = {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}", "AME_DOCTOR_CHECK_MODULES": "support.synthetic_checks"}
# a hang guard, not a timing assertion: before the early decision the silent endpoint took ~100 s (each check
# waiting out its own timeout) and exited 0
HANG_GUARD = 75


def _no_data_run(endpoint: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    res = run_cli("run", "--format", "json", *extra, env={"AWS_ENDPOINT_URL": endpoint}, timeout=HANG_GUARD)
    return res, json.loads(res.stdout)


def test_refused_endpoint_is_exit_3_with_every_check_unknown(refused_port: int) -> None:
    res, report = _no_data_run(f"http://127.0.0.1:{refused_port}")
    assert res.returncode == 3, res.stderr
    assert "ame-doctor: cannot run: AWS endpoint unreachable: Could not connect" in res.stderr
    assert report["exit_code"] == 3 and report["status"] == "unknown"
    checks = report["checks"]
    assert len(checks) >= 12 and all(c["status"] == "unknown" for c in checks), [c["status"] for c in checks]
    assert "Traceback" not in res.stderr


def test_silent_endpoint_is_exit_3_without_waiting_for_every_check() -> None:
    """An endpoint that accepts and never answers: the early STS/ECS calls time out and stop the run."""
    with SilentServer() as silent:
        res, report = _no_data_run(silent.url, "--only", "ssm.values,ecs.service,sg.ingress")
        assert silent.accepted >= 2  # the early calls (and the checks' first calls) really connected
    assert res.returncode == 3, res.stderr
    assert "ame-doctor: cannot run: AWS endpoint unreachable: Read timeout on endpoint URL" in res.stderr
    assert {c["status"] for c in report["checks"]} == {"unknown"}  # [...] not 'error: timed out after 60s'
    assert all("AWS endpoint unreachable" in c["summary"] for c in report["checks"])


def test_no_evidence_is_never_exit_0() -> None:
    """Every selected check unknown (nothing to do with AWS): exit 3, status unknown, with and without --strict."""
    for strict in ([], ["--strict"]):
        res = run_cli("run", "--only", "syn.unknown", "--format", "json", *strict, env=SYN_ENV)
        assert res.returncode == 3, res.stderr
        report = json.loads(res.stdout)
        assert report["status"] == "unknown" and report["exit_code"] == 3
        assert "cannot run: no check gathered evidence (1 unknown, 0 error, 0 skipped of 1)" in res.stderr


def test_sigint_leaves_no_traceback_and_the_partial_report_says_130(tmp_path: Path) -> None:
    out = tmp_path / "partial.json"
    env = {**os.environ, **SYN_ENV, "SYN_SLEEP": "60"}
    for _ in range(3):  # the stray "exception was never retrieved" came at every interrupt
        proc = subprocess.Popen([sys.executable, "-m", "doctor", "run", "--only", "syn.ok,syn.warn,syn.sleep",
                                 "--format", "json", "--output", f"json={out}"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env)
        try:
            assert proc.stderr is not None
            deadline = time.monotonic() + 60
            seen = []
            while time.monotonic() < deadline and not any("syn.warn" in s for s in seen):
                seen.append(proc.stderr.readline())  # the run is under way: syn.sleep is running
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, stderr
        assert "Traceback" not in stderr and "never retrieved" not in stderr and "CancelledError" not in stderr
        report = json.loads(out.read_text())
        assert json.loads(stdout) == report
        assert report["exit_code"] == 130 and report["run"]["interrupted"] is True


@pytest.mark.parametrize("strict", [False, True])
def test_unknown_beside_evidence_follows_strict(strict: bool) -> None:
    res = run_cli("run", "--only", "syn.ok,syn.unknown", "--format", "json", *(["--strict"] if strict else []),
                  env=SYN_ENV)
    assert res.returncode == (1 if strict else 0), res.stderr
    assert json.loads(res.stdout)["status"] == "degraded"  # never "healthy" with a check that could not tell
