"""The CLI as a user runs it (`python -m doctor`): subcommands, selection, outputs, exit codes, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_cli

SYN_ENV = {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}", "AME_DOCTOR_CHECK_MODULES": "support.synthetic_checks"}


def syn(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess, with the synthetic checks registered."""
    return run_cli(*args, env={**SYN_ENV, **env}, timeout=60)


@pytest.fixture
def main(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The CLI in-process (fast), with the synthetic checks registered for this test only.
    Returns ``run(*args) -> CompletedProcess`` like ``syn``."""
    import importlib

    from doctor import cli, registry

    registry.load_checks()
    saved = dict(registry._REGISTRY)
    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    importlib.reload(importlib.import_module("support.synthetic_checks"))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    yield run
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


# --- subcommands ----------------------------------------------------------------------------
def test_version(main: Any) -> None:
    from doctor import __version__

    assert run_cli("version").stdout.strip() == f"ame-doctor {__version__}"
    assert main("--version").stdout.strip() == f"ame-doctor {__version__}"


def test_checks_lists_registry_in_order(main: Any) -> None:
    res = main("checks")
    assert res.returncode == 0, res.stderr
    ids = [line.split()[1] for line in res.stdout.splitlines()]
    assert ids[0] == "ssm.values"
    orders = [int(line.split()[0]) for line in res.stdout.splitlines()]
    assert orders == sorted(orders)
    assert ids[-6:] == ["syn.ok", "syn.warn", "syn.fail", "syn.unknown", "syn.sleep", "syn.crash"]
    assert "needs: aws" in res.stdout.splitlines()[0]
    data = json.loads(main("checks", "--format", "json").stdout)
    assert data[0]["id"] == "ssm.values" and data[0]["iam_actions"]


def test_checks_explain_one_and_unknown_id(main: Any) -> None:
    res = main("checks", "ssm.values")
    assert res.returncode == 0
    assert "What it checks" in res.stdout and "Why it matters" in res.stdout and "Fix" in res.stdout
    assert "ssm:GetParametersByPath" in res.stdout
    bad = main("checks", "ssm.value")
    assert bad.returncode == 2 and "valid ids: ssm.values" in bad.stderr


def test_schema_is_the_report_json_schema(main: Any) -> None:
    from doctor.model import Report

    res = main("schema")
    schema = json.loads(res.stdout)
    assert schema == json.loads(json.dumps(Report.model_json_schema(by_alias=True)))
    assert {"schema_version", "tool", "run", "target", "status", "exit_code", "checks", "playbooks",
            "summary"} <= set(schema["properties"])


@pytest.mark.parametrize("flag", ["--only", "--skip"])
def test_unknown_check_id_is_usage_error_listing_valid_ids(main: Any, flag: str) -> None:
    res = main("run", flag, "syn.ok,ssm.vals")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1
    assert "unknown check id ssm.vals" in res.stderr
    assert "valid ids: ssm.values" in res.stderr and "syn.ok" in res.stderr


def test_bad_flag_is_usage_error() -> None:
    res = run_cli("run", "--concurrency", "many")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith("ame-doctor: error: argument --concurrency")


# --- exit codes (0 ok, 1 findings, 2 usage, 3 cannot run) ------------------------------------------
@pytest.mark.parametrize(("args", "code"), [  # the rest of the table: test_model.py (exit_code_for)
    (["--only", "syn.ok,syn.warn"], 0),
    (["--only", "syn.ok,syn.warn", "--fail-on", "warning"], 1),
    (["--only", "syn.fail"], 1),
    (["--only", "syn.ok,syn.unknown,syn.crash", "--strict"], 1),
    (["--only", "syn.ok,syn.unknown,syn.crash"], 0),
    (["--only", "syn.unknown,syn.crash"], 3),  # no check gathered evidence: never 0, strict or not
    (["--only", "syn.unknown,syn.crash", "--strict"], 3),
])
def test_exit_codes(main: Any, args: list[str], code: int) -> None:
    res = main("run", "--format", "json", *args)
    assert res.returncode == code, res.stderr
    report = json.loads(res.stdout)
    assert report["exit_code"] == code


def test_strict_and_fail_on_from_config_file(main: Any, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[run]\nstrict = true\nfail_on = "warning"\n')
    assert main("run", "--config", str(cfg), "--only", "syn.warn").returncode == 1
    assert main("run", "--config", str(cfg), "--only", "syn.ok,syn.unknown").returncode == 1
    assert main("run", "--config", str(cfg), "--only", "syn.ok").returncode == 0
    assert main("run", "--config", str(cfg), "--only", "syn.warn", "--fail-on", "error").returncode == 0


def test_exit_3_without_credentials(tmp_path: Path) -> None:
    env = {k: "" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
    res = run_cli("run", "--only", "ssm.values", env=env, cwd=tmp_path)
    assert res.returncode == 3
    assert "cannot run: no AWS credentials" in res.stderr


def test_exit_3_when_aws_endpoint_unreachable(refused_port: int) -> None:
    """A refused endpoint fails fast: the check is unknown (not cut off by the deadline), the run exits 3."""
    res = run_cli("run", "--only", "ssm.values", "--format", "json", "--timeout", "60",
                  env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{refused_port}"}, timeout=90)
    assert res.returncode == 3, res.stderr
    check = json.loads(res.stdout)["checks"][0]
    assert check["status"] == "unknown"
    assert "unreachable" in check["summary"] and "deadline" not in check["summary"]


# --- outputs --------------------------------------------------------------------------------
def test_outputs_repeatable_format_eq_path(tmp_path: Path) -> None:
    j, t, auto = tmp_path / "r.json", tmp_path / "sub" / "r.txt", tmp_path / "auto.json"
    res = syn("run", "--only", "syn.ok,syn.fail", "--output", f"json={j}", "--output", f"text={t}",
              "--output", str(auto))
    assert res.returncode == 1, res.stderr
    report = json.loads(j.read_text())
    assert [c["id"] for c in report["checks"]] == ["syn.ok", "syn.fail"]
    assert json.loads(auto.read_text())["checks"] == report["checks"]
    text = t.read_text()
    assert "syn.fail" in text and "FAIL" in text and not text.startswith("{")
    assert "FAIL" in res.stdout  # stdout is text by default
    assert f"wrote json report to {j}" in res.stderr


def test_output_unknown_format_is_usage_error(main: Any, tmp_path: Path) -> None:
    res = main("run", "--only", "syn.ok", "--output", f"yaml={tmp_path / 'r.yaml'}")
    assert res.returncode == 2 and "unknown or unavailable output format 'yaml'" in res.stderr


def test_report_rerenders_saved_report(main: Any, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    main("run", "--only", "syn.ok,syn.warn", "--output", f"json={path}")
    again = main("report", str(path), "--format", "json")
    assert again.returncode == 0
    assert json.loads(again.stdout) == json.loads(path.read_text())
    text = main("report", str(path))
    assert "syn.warn" in text.stdout and "WARN" in text.stdout


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not JSON (line 1"),
    ('{"hello": 1}', "not an ame-doctor report"),
    ('{"schema_version": 99}', "schema_version 99 is newer than this ame-doctor supports"),
    ('{"schema_version": 1, "tool": {"version": "x"}}', "invalid report at run"),
    ('[1, 2]', "not an ame-doctor report"),
])
def test_report_bad_file_exit_2(main: Any, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    res = main("report", str(path))
    assert res.returncode == 2
    assert message in res.stderr and res.stderr.count("\n") == 1
    assert main("report", str(tmp_path / "missing.json")).returncode == 2


def test_report_bad_file_exit_2_as_a_process(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"schema_version": 99}')
    res = run_cli("report", str(path))
    assert res.returncode == 2
    assert "newer than this ame-doctor supports" in res.stderr and "Traceback" not in res.stderr


# --- bare invocation ------------------------------------------------------------------------
def test_bare_invocation_without_tty_behaves_as_run() -> None:
    res = syn("--only", "syn.ok", "--format", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["checks"][0]["id"] == "syn.ok"


@pytest.mark.parametrize(("tty", "argv", "expected"), [
    (True, [], ["tui"]),
    (False, [], ["run"]),
    (True, ["--only", "ssm.values"], ["tui", "--only", "ssm.values"]),
    (False, ["--only", "ssm.values"], ["run", "--only", "ssm.values"]),
    (True, ["--help"], ["--help"]),
    (True, ["checks"], ["checks"]),
])
def test_bare_invocation_tty_detection(monkeypatch: pytest.MonkeyPatch, tty: bool, argv: list[str],
                                       expected: list[str]) -> None:
    from doctor import cli

    monkeypatch.setattr(sys.stdin, "isatty", lambda: tty)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
    assert cli._normalise_argv(argv) == expected


def test_bare_invocation_on_a_tty_dispatches_to_the_tui(monkeypatch: pytest.MonkeyPatch) -> None:
    import doctor.commands.tui
    from doctor import cli

    seen: dict[str, Any] = {}
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(doctor.commands.tui, "main",
                        lambda args, argv: seen.setdefault("tui", (args.command, argv)) and 0)
    assert cli.main(["--only", "ssm.values"]) == 0
    assert seen["tui"] == ("tui", ["--only", "ssm.values"])


# --- Ctrl-C ------------------------------------------------------------------------------------
def test_sigint_writes_partial_report(tmp_path: Path) -> None:
    out = tmp_path / "partial.json"
    env = {**os.environ, **SYN_ENV, "SYN_SLEEP": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "doctor", "run", "--only", "syn.ok,syn.sleep", "--format", "json",
                             "--output", f"json={out}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stderr is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until syn.ok finished: the run is under way
            line = proc.stderr.readline()
            lines.append(line)
            if "syn.ok" in line or not line:
                break
        assert any("syn.ok" in line for line in lines), lines
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "partial report written" in stderr and "Traceback" not in stderr
    report = json.loads(out.read_text())
    assert json.loads(stdout) == report
    assert report["run"]["interrupted"] is True and report["exit_code"] == 130
    statuses = {c["id"]: (c["status"], c["summary"]) for c in report["checks"]}
    assert statuses["syn.ok"][0] == "pass"
    assert statuses["syn.sleep"] == ("skipped", "skipped: interrupted")


# --- AWS end to end: AccessDenied under moto's IAM enforcement ----------------------------------
def _auth(endpoint: str, value: str) -> None:
    req = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=value.encode(), method="POST",
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(req, timeout=10)


def test_access_denied_end_to_end_is_unknown_naming_action(moto_endpoint: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    from doctor.sim.world import build_world

    session = boto3.Session(region_name="eu-west-1")
    build_world(session)
    iam = session.client("iam")
    iam.create_user(UserName="doctor-limited")
    iam.put_user_policy(UserName="doctor-limited", PolicyName="only-sts", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"}]}))
    key = iam.create_access_key(UserName="doctor-limited")["AccessKey"]
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    _auth(moto_endpoint, "0")
    try:
        res = run_cli("run", "--only", "ssm.values", "--format", "json",
                      env={"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]})
    finally:
        _auth(moto_endpoint, "inf")
    report = json.loads(res.stdout)
    check = report["checks"][0]
    assert check["status"] == "unknown", check
    assert check["unlock"] == "ssm:GetParametersByPath"
    assert "ssm:GetParametersByPath" in check["summary"]
    # AWS answered (STS allowed, the rest denied): reachable, but the only check saw nothing — no evidence, exit 3
    assert res.returncode == 3 and report["exit_code"] == 3 and report["status"] == "unknown"
    assert "cannot run: no check gathered evidence (1 unknown" in res.stderr


def test_missing_env_file_is_usage_error(main: Any, tmp_path: Path) -> None:
    res = main("run", "--only", "syn.ok", "--env-file", str(tmp_path / "nope.env"))
    assert res.returncode == 2
    assert res.stderr == f"ame-doctor: error: --env-file {tmp_path / 'nope.env'}: no such file\n"
    assert main("run", "--only", "syn.ok", "--env-file", str(tmp_path)).returncode == 2
