"""--fail-on / --strict and the exit codes (doctor.model EXIT_*):
0 healthy; 1 a finding at or above --fail-on (default error), or with --strict any unknown/error
check; 2 usage/config error; 3 the doctor could not run — AWS unreachable, or no check gathered evidence
(every one unknown/error/skipped), strict or not. One case per combination, through the real
engine with synthetic checks (no AWS), plus the CLI path for flags, config keys and precedence."""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path

import pytest

from doctor.checkapi import CheckMeta, FindingKind
from doctor.config import Config
from doctor.engine import Engine, EngineOptions
from doctor.model import Severity
from doctor.registry import RegisteredCheck

SEVERITIES = ["info", "warning", "error", "critical"]
RANK = {s: i for i, s in enumerate(SEVERITIES)}


def _checks(severity: str | None, state: str) -> list[RegisteredCheck]:
    def emitting(ctx):  # type: ignore[no-untyped-def]
        if severity:
            yield ctx.finding("k", "res", severity=severity, severity_name=severity)

    def stateful(ctx):  # type: ignore[no-untyped-def]
        if state == "unknown":
            ctx.unknown("cannot see it", unlock="ec2:DescribeThings")
            return
        if state == "error":
            raise RuntimeError("a bug in the check")
        yield from ()

    kind = FindingKind(severity=Severity.info, title="a {severity_name} finding", why="w", fix="r")
    meta = {"proves": "p", "why": "w", "remediation": "r", "kinds": {"k": kind}}
    return [
        RegisteredCheck(CheckMeta(id="synth.finding", title="finding", order=1, **meta), emitting, "t.emitting"),
        RegisteredCheck(CheckMeta(id="synth.state", title="state", order=2, **meta), stateful, "t.stateful"),
    ]


def documented(fail_on: str, severity: str | None, strict: bool, state: str) -> int:
    if severity is not None and RANK[severity] >= RANK[fail_on]:
        return 1
    if strict and state in ("unknown", "error"):
        return 1
    return 0


CASES = list(itertools.product(SEVERITIES, [None, *SEVERITIES], [False, True], ["pass", "unknown", "error"]))


@pytest.mark.parametrize(("fail_on", "severity", "strict", "state"), CASES,
                         ids=[f"fail_on={a}-finding={b}-strict={c}-check={d}" for a, b, c, d in CASES])
def test_exit_code(fail_on: str, severity: str | None, strict: bool, state: str) -> None:
    config = Config.model_validate({"run": {"fail_on": fail_on, "strict": strict}})
    report = asyncio.run(Engine(config, _checks(severity, state), EngineOptions(diagnose=False)).run())
    assert report.check("synth.state").status.value == state  # type: ignore[union-attr]
    assert report.exit_code == documented(fail_on, severity, strict, state)


# --- the CLI path: flags and config keys reach the engine; flags win over the file ---------------
SYNTH = '''
import os
from doctor.checkapi import CheckMeta, FindingKind, check

KIND = FindingKind(severity="warning", title="synthetic finding", why="w", fix="r")


@check(CheckMeta(id="synth.cli", title="synthetic", order=99, proves="p", why="w", remediation="r",
                 kinds={"k": KIND}))
def run(ctx):
    if os.environ.get("SYNTH_UNKNOWN"):
        ctx.unknown("cannot see it", unlock="ec2:DescribeThings")
        return
    yield ctx.finding("k", "res", severity=os.environ.get("SYNTH_SEVERITY", "warning"))


@check(CheckMeta(id="synth.ok", title="synthetic evidence", order=100, proves="p", why="w", remediation="r",
                 kinds={"k": KIND}))
def ok(ctx):
    if os.environ.get("SYNTH_NO_EVIDENCE"):
        ctx.unknown("cannot see it either", unlock="ec2:DescribeOtherThings")
    yield from ()
'''


@pytest.fixture
def synth_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "ame_synth_exit.py").write_text(SYNTH, encoding="utf-8")
    root = str(Path(__file__).resolve().parent.parent)
    return {"AME_DOCTOR_CHECK_MODULES": "ame_synth_exit", "PYTHONPATH": f"{tmp_path}{os.pathsep}{root}"}


@pytest.mark.parametrize(("args", "extra", "toml", "want"), [
    ([], {}, "", 0),                                               # warning < default error
    (["--fail-on", "warning"], {}, "", 1),
    ([], {"SYNTH_SEVERITY": "error"}, "", 1),                      # default fail-on is error
    (["--fail-on", "critical"], {"SYNTH_SEVERITY": "error"}, "", 0),
    ([], {}, '[run]\nfail_on = "warning"\n', 1),                   # config key
    (["--fail-on", "error"], {}, '[run]\nfail_on = "warning"\n', 0),  # the flag wins over the file
    ([], {"SYNTH_UNKNOWN": "1"}, "", 0),                           # unknown beside evidence: lenient
    (["--strict"], {"SYNTH_UNKNOWN": "1"}, "", 1),
    ([], {"SYNTH_UNKNOWN": "1"}, "[run]\nstrict = true\n", 1),
    ([], {"SYNTH_UNKNOWN": "1", "SYNTH_NO_EVIDENCE": "1"}, "", 3),  # no evidence at all: never 0
    (["--strict"], {"SYNTH_UNKNOWN": "1", "SYNTH_NO_EVIDENCE": "1"}, "", 3),
    (["--fail-on", "loud"], {}, "", 2),                            # usage error
    ([], {}, "[run]\nfail_on = 3\n", 2),                           # config error
], ids=["default", "flag-warning", "default-error", "flag-critical", "config-warning", "flag-over-config",
        "unknown-lenient", "strict-flag", "strict-config", "no-evidence", "no-evidence-strict", "bad-flag", "bad-config"])
def test_cli_exit_codes(cli, synth_env: dict[str, str], tmp_path: Path, args: list[str],  # type: ignore[no-untyped-def]
                        extra: dict[str, str], toml: str, want: int) -> None:
    cfg = tmp_path / "ame-doctor.toml"
    cfg.write_text(toml, encoding="utf-8")
    res = cli("run", "--config", str(cfg), "--only", "synth.cli,synth.ok", "--format", "json", *args,
              env={**synth_env, **extra})
    assert res.returncode == want, res.stderr
    if want == 2:
        assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


# --- no evidence: every check unknown, error or skipped -> 3, whatever --strict and --fail-on say -----------
def _blind(first: str, second: str, severity: str | None) -> list[RegisteredCheck]:
    """Two checks that gather no evidence (``unknown`` / ``error``), the first possibly with a finding."""
    def blind(state: str, with_finding: bool):  # type: ignore[no-untyped-def]
        def run(ctx):  # type: ignore[no-untyped-def]
            if with_finding and severity:
                yield ctx.finding("k", "res", severity=severity, severity_name=severity)
            if state == "error":
                raise RuntimeError("a bug in the check")
            ctx.unknown("cannot see it", unlock="ec2:DescribeThings")
        return run

    kind = FindingKind(severity=Severity.info, title="a {severity_name} finding", why="w", fix="r")
    meta = {"proves": "p", "why": "w", "remediation": "r", "kinds": {"k": kind}}
    return [RegisteredCheck(CheckMeta(id="blind.one", title="1", order=1, **meta), blind(first, True), "t.one"),
            RegisteredCheck(CheckMeta(id="blind.two", title="2", order=2, **meta), blind(second, False), "t.two")]


BLIND = list(itertools.product(["unknown", "error"], ["unknown", "error"], [None, "info", "warning"], [False, True]))


@pytest.mark.parametrize(("first", "second", "severity", "strict"), BLIND,
                         ids=[f"{a}+{b}-finding={c}-strict={d}" for a, b, c, d in BLIND])
def test_no_evidence_is_never_exit_0(first: str, second: str, severity: str | None, strict: bool) -> None:
    config = Config.model_validate({"run": {"fail_on": "warning", "strict": strict}})
    report = asyncio.run(Engine(config, _blind(first, second, severity), EngineOptions(diagnose=False)).run())
    assert report.check("blind.two").status.value == second  # type: ignore[union-attr]
    # a finding at --fail-on is still reported as one (1); anything else without evidence is 3
    assert report.exit_code == (1 if severity == "warning" else 3)
    assert report.status.value == "unknown"
