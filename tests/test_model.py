"""Report model: exit codes (0 healthy, 1 findings or strict, 2 usage, 3 cannot run) and run status, deterministic uids, schema round trip."""

from __future__ import annotations

import pytest

from doctor.model import (
    SCHEMA_VERSION,
    CheckResult,
    CheckStatus,
    Finding,
    Report,
    RunInfo,
    RunStatus,
    Severity,
    Target,
    ToolInfo,
    exit_code_for,
    run_status,
    summarize,
)


def result(status: str, *severities: str) -> CheckResult:
    findings = [Finding(uid=f"x.y:k:{i}", severity=Severity(s), title="t") for i, s in enumerate(severities)]
    return CheckResult(id="x.y", title="t", order=1, status=CheckStatus(status), findings=findings)


@pytest.mark.parametrize(("checks", "fail_on", "strict", "code"), [
    ([result("pass", "info")], "error", False, 0),
    ([result("warn", "warning")], "error", False, 0),
    ([result("warn", "warning")], "warning", False, 1),
    ([result("pass", "info")], "info", False, 1),
    ([result("fail", "error")], "error", False, 1),
    ([result("fail", "error")], "critical", False, 0),
    ([result("fail", "critical")], "critical", False, 1),
    # no check gathered evidence (nothing pass/warn/fail): the doctor could not run, never 0
    ([result("unknown")], "error", False, 3),
    ([result("unknown")], "error", True, 3),
    ([result("error")], "error", False, 3),
    ([result("skipped")], "error", True, 3),
    ([result("unknown"), result("error"), result("skipped")], "error", False, 3),
    ([], "error", False, 3),
    ([result("unknown", "warning")], "warning", False, 1),  # a finding at fail-on still says 1
    # some evidence: unknown/error checks fail only --strict
    ([result("pass"), result("unknown")], "error", False, 0),
    ([result("pass"), result("unknown")], "error", True, 1),
    ([result("warn", "warning"), result("error")], "error", True, 1),
    ([result("pass"), result("skipped")], "error", True, 0),
])
def test_exit_code_table(checks: list[CheckResult], fail_on: str, strict: bool, code: int) -> None:
    assert exit_code_for(checks, Severity(fail_on), strict) == code


@pytest.mark.parametrize(("statuses", "expected"), [
    (["pass", "pass"], RunStatus.healthy),
    (["pass", "warn"], RunStatus.degraded),
    (["pass", "error"], RunStatus.degraded),
    (["pass", "unknown"], RunStatus.degraded),
    (["pass", "fail", "warn"], RunStatus.failing),
    (["unknown", "skipped"], RunStatus.unknown),
    (["error", "unknown"], RunStatus.unknown),  # no evidence at all: never degraded-but-passing
    (["error"], RunStatus.unknown),
    (["pass", "skipped"], RunStatus.healthy),
    ([], RunStatus.unknown),
])
def test_run_status(statuses: list[str], expected: RunStatus) -> None:
    assert run_status([result(s) for s in statuses]) == expected


def test_summary_serialises_pass_alias_and_round_trips() -> None:
    checks = [result("pass"), result("fail", "error"), result("unknown")]
    report = Report(tool=ToolInfo(version="0"), run=RunInfo(id="r", started_at="2026-01-01T00:00:00+00:00"),
                    target=Target(cluster="c"), checks=checks, summary=summarize(checks))
    data = report.model_dump(mode="json", by_alias=True)
    assert data["summary"] == {"pass": 1, "warn": 0, "fail": 1, "error": 0, "unknown": 1, "skipped": 0}
    assert data["schema_version"] == SCHEMA_VERSION
    assert Report.model_validate_json(report.to_json()) == report
