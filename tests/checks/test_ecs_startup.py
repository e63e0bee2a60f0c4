"""ecs.startup against moto: stopped tasks classified, log lines matched, empty logs explained."""

from __future__ import annotations

from typing import Any

import pytest

from checks.ecs_startup import META
from doctor.model import CheckStatus
from doctor.signatures import LOG_SIGNATURES, STOP_KINDS, classify_stop
from doctor.sim.world import WorldSpec, build_world, put_log_lines

from support import ecs_helpers
from support.ecs_helpers import crash, deny, kinds, run_check, signals

moto_session = ecs_helpers.moto_session  # overrides conftest's: same world, shared botocore loader

ID = "ecs.startup"


def test_every_log_signature_is_declared() -> None:
    """Each signature of the catalogue is reported as its own kind, log_<name after the dot>, which declares
    the signature's signal: a new signature without its kind (why, fix) in ecs_startup.toml fails here."""
    for sig in LOG_SIGNATURES:
        kind = META.kinds.get(f"log_{sig.signal.split('.', 1)[1]}")
        assert kind is not None and kind.signal == sig.signal, sig.signal
    assert {sig.signal for sig in LOG_SIGNATURES} <= META.signals()


def _stopped(code: str = "", reason: str = "", exit_code: int | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "app"}
    if exit_code is not None:
        c["exitCode"] = exit_code
    return {"stopCode": code, "stoppedReason": reason, "containers": [c]}


def test_every_stop_class_is_a_declared_kind() -> None:
    """The classifier's severity and signals per class are those its declared kind reports."""
    examples = [
        _stopped("TaskFailedToStart", "CannotPullContainerError: pull image manifest"),
        _stopped("TaskFailedToStart", "CannotStartContainerError: failed to initialize logging driver"),
        _stopped("TaskFailedToStart", "ResourceInitializationError: unable to pull secrets or registry auth"),
        _stopped("EssentialContainerExited", "OutOfMemoryError: Container killed due to memory usage", 137),
        _stopped("EssentialContainerExited", "Essential container in task exited", 1),
        _stopped("ServiceSchedulerInitiated", "Scaling activity", 143),
        _stopped("EssentialContainerExited", "Essential container in task exited", 12),
        _stopped("EssentialContainerExited", "Essential container in task exited", 0),
        _stopped(),
    ]
    classes = {cls.kind: cls for cls in (classify_stop(t, {"app"}) for t in examples)}
    assert set(classes) == set(STOP_KINDS)
    for name, cls in classes.items():
        if cls.problem:
            kind = META.kinds[name]
            assert (kind.severity.value, kind.all_signals()) == (cls.severity, cls.signals), name


def test_healthy_world_is_ok(world: Any) -> None:
    r = run_check(ID)
    assert r.status == CheckStatus.passed, r
    assert signals(r) == {"startup.ok"}
    assert r.findings[0].evidence["log_streams"] == 3  # the newest running task of each service


def test_image_pull_failure_grouped(moto_session: Any, world: Any) -> None:
    crash(moto_session, world, "image", 3, stop_code="TaskFailedToStart", exit_code=None,
          reason="CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                 "failed to resolve ref 123456789012.dkr.ecr.eu-west-1.amazonaws.com/propertyfeedtemplate:prod")
    r = run_check(ID)
    assert r.status == CheckStatus.fail
    f = next(f for f in r.findings if "startup.image_pull_failed" in f.signals)
    assert f.uid == "ecs.startup:image_pull_failed:propertyfeedtemplate-image"
    assert f.severity.value == "critical"
    assert f.evidence["stopped_tasks"] == 3 and len(f.evidence["groups"]) == 1
    assert f.evidence["groups"][0]["stop_code"] == "TaskFailedToStart"
    assert "propertyfeedtemplate:prod" in f.remediation
    assert "startup.ok" not in signals(r)


def test_secrets_unresolvable_names_the_cause(moto_session: Any, world: Any) -> None:
    crash(moto_session, world, "sync", 1, stop_code="TaskFailedToStart", exit_code=None,
          reason="ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
                 "retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
                 "invalid ssm parameters: /propertyfeedtemplate/production/DB_PASSWORD_OLD")
    r = run_check(ID)
    f = next(f for f in r.findings if f.uid == "ecs.startup:secrets_unresolvable:propertyfeedtemplate-sync")
    assert f.signals == ["startup.secrets_unresolvable"]
    assert f.evidence["cause"] == "parameter_missing"
    assert "ame-ecs-execution" in f.remediation


def test_bootstrap_crash_with_log_signature(moto_session: Any, world: Any) -> None:
    arns = crash(moto_session, world, "bulk", 2, exit_code=1)
    logs = moto_session.client("logs")
    for arn in arns:
        put_log_lines(logs, "/ecs/propertyfeedtemplate-bulk", f"ecs/app/{arn.rsplit('/', 1)[-1]}", [
            "   INFO  Processing jobs from the [bulk] queue.",
            "In Connection.php line 829:",
            "  SQLSTATE[HY000] [2002] Connection timed out (Connection: mysql, SQL: select * from `feeds`)",
        ])
    r = run_check(ID)
    assert r.status == CheckStatus.fail
    assert {"startup.bootstrap_failed", "logs.db_timeout"} <= signals(r)
    crash_f = next(f for f in r.findings if f.uid == "ecs.startup:bootstrap_failed:propertyfeedtemplate-bulk")
    assert crash_f.evidence["groups"][0]["exit_code"] == 1 and crash_f.evidence["stopped_tasks"] == 2
    log_f = next(f for f in r.findings if f.uid == "ecs.startup:log_db_timeout:propertyfeedtemplate-bulk")
    assert "stopped task" in log_f.evidence["where"] and "Connection timed out" in log_f.evidence["sample"]
    # the other services are clean: no findings for them
    assert all("propertyfeedtemplate-sync" not in f.uid for f in r.findings)


def test_oom_and_runtime_dirs_in_running_task_logs(moto_session: Any, world: Any) -> None:
    crash(moto_session, world, "image", 1, exit_code=137,
          container_reason="OutOfMemoryError: Container killed due to memory usage")
    running = world.tasks["propertyfeedtemplate-sync"][0].rsplit("/", 1)[-1]
    put_log_lines(moto_session.client("logs"), "/ecs/propertyfeedtemplate-sync", f"ecs/app/{running}",
                  ["Please provide a valid cache path."])
    r = run_check(ID)
    assert {"startup.oom", "startup.runtime_dirs_missing"} <= signals(r)
    f = next(f for f in r.findings if "startup.runtime_dirs_missing" in f.signals)
    assert "running task" in f.evidence["where"]


def test_expected_and_old_stops_are_not_failures(moto_session: Any, world: Any) -> None:
    crash(moto_session, world, "sync", 2, stop_code="ServiceSchedulerInitiated", exit_code=143,
          reason="Scaling activity initiated by (deployment ecs-svc/1)")
    crash(moto_session, world, "image", 2, exit_code=1, minutes_ago=120)  # outside the 60 min window
    r = run_check(ID)
    assert r.status == CheckStatus.passed, r.findings
    assert signals(r) == {"startup.ok"}
    assert run_check(ID, run={"window_minutes": 180}).status == CheckStatus.fail  # a wider window sees them


def test_empty_logs_and_log_channel_not_stderr(moto_session: Any) -> None:
    w = build_world(moto_session, WorldSpec(extra_params={"LOG_CHANNEL": "stack"}))
    logs = moto_session.client("logs")
    for group in w.log_groups.values():
        for s in logs.describe_log_streams(logGroupName=group)["logStreams"]:
            logs.delete_log_stream(logGroupName=group, logStreamName=s["logStreamName"])
    r = run_check(ID)
    assert r.status == CheckStatus.warn
    assert kinds(r) == {"logs_empty"}
    f = r.findings[0]
    assert f.signals == ["logs.not_on_stderr"] and f.evidence["LOG_CHANNEL"] == "stack"
    assert "LOG_CHANNEL=stderr" in f.remediation and f.severity.value == "warning"
    assert f.title.endswith(" and LOG_CHANNEL is stack") and f.detail.startswith("Laravel's default channel")


def test_empty_logs_with_log_channel_stderr_are_info(moto_session: Any, world: Any) -> None:
    logs = moto_session.client("logs")
    for s in logs.describe_log_streams(logGroupName="/ecs/propertyfeedtemplate-sync")["logStreams"]:
        logs.delete_log_stream(logGroupName="/ecs/propertyfeedtemplate-sync", logStreamName=s["logStreamName"])
    r = run_check(ID)
    assert r.status == CheckStatus.passed, r.findings
    f = next(f for f in r.findings if f.uid == "ecs.startup:logs_empty:propertyfeedtemplate-sync")
    assert f.severity.value == "info" and f.signals == [] and f.remediation == "" and f.detail == ""
    assert f.title == ("propertyfeedtemplate-sync: no log lines in /ecs/propertyfeedtemplate-sync within the "
                       "last 60 min")


def test_missing_log_group(moto_session: Any, world: Any) -> None:
    moto_session.client("logs").delete_log_group(logGroupName="/ecs/propertyfeedtemplate-image")
    r = run_check(ID)
    f = next(f for f in r.findings if f.uid == "ecs.startup:log_group_missing:propertyfeedtemplate-image")
    assert f.signals == ["startup.logging_init_failed"]
    assert r.status == CheckStatus.fail


def test_logs_denied_is_unknown_naming_the_action(monkeypatch: pytest.MonkeyPatch, world: Any) -> None:
    deny(monkeypatch, "logs", "GetLogEvents")
    r = run_check(ID)
    assert r.status == CheckStatus.unknown
    assert r.unlock == "logs:GetLogEvents"


def test_tasks_denied_is_unknown_naming_the_action(monkeypatch: pytest.MonkeyPatch, world: Any) -> None:
    deny(monkeypatch, "ecs", "ListTasks")
    r = run_check(ID)
    assert r.status == CheckStatus.unknown
    assert r.unlock == "ecs:ListTasks"


def test_log_streams_denied_is_unknown(monkeypatch: pytest.MonkeyPatch, moto_session: Any, world: Any) -> None:
    logs = moto_session.client("logs")
    for group in world.log_groups.values():
        for s in logs.describe_log_streams(logGroupName=group)["logStreams"]:
            logs.delete_log_stream(logGroupName=group, logStreamName=s["logStreamName"])
    deny(monkeypatch, "logs", "DescribeLogStreams")
    r = run_check(ID)
    assert r.status == CheckStatus.unknown and r.unlock == "logs:DescribeLogStreams"


def test_failures_before_the_current_deployment_are_history(moto_session: Any, world: Any) -> None:
    """A crash loop the current deployment replaced (a resolved incident) is not judged; one under it is."""
    from datetime import UTC, datetime, timedelta

    from support.ecs_helpers import backend_service

    arns = crash(moto_session, world, "image", 3, exit_code=1, minutes_ago=30)
    for arn in arns:
        put_log_lines(moto_session.client("logs"), "/ecs/propertyfeedtemplate-image",
                      f"ecs/app/{arn.rsplit('/', 1)[-1]}", ["  Please provide a valid cache path."])
    assert run_check(ID).status == CheckStatus.fail  # under the deployment of a day ago: judged
    backend_service("propertyfeedtemplate-production", "propertyfeedtemplate-image").deployments[0]["createdAt"] = (
        datetime.now(UTC) - timedelta(minutes=20))  # the fix, deployed after the crashes
    r = run_check(ID)
    assert r.status == CheckStatus.passed, [f.uid for f in r.findings]
    assert r.findings[0].evidence["stopped_before_current_deployment"] == 3
    crash(moto_session, world, "image", 1, exit_code=1, minutes_ago=5)  # the new deployment crashes too
    f = next(f for f in run_check(ID).findings if f.uid == "ecs.startup:bootstrap_failed:propertyfeedtemplate-image")
    assert f.evidence["stopped_tasks"] == 1
