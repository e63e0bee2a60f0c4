"""ecs.service against moto: counts, deployments / circuit breaker, events, restart storms, scale range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from doctor.model import CheckStatus

from support import ecs_helpers
from support.ecs_helpers import backend_service, crash, deny, kinds, run_check, signals

moto_session = ecs_helpers.moto_session  # overrides conftest's: same world, shared botocore loader

ID = "ecs.service"
CLUSTER = "propertyfeedtemplate-production"
SYNC, IMAGE, BULK = (f"propertyfeedtemplate-{q}" for q in ("sync", "image", "bulk"))


def test_healthy_world_is_steady(world: Any) -> None:
    r = run_check(ID)
    assert r.status == CheckStatus.passed, r
    assert [f.uid for f in r.findings] == [f"ecs.service:steady:{s}" for s in (SYNC, IMAGE, BULK)]
    assert signals(r) == {"ecs.steady"}
    assert r.findings[0].evidence["running"] == 1


def test_missing_service_is_an_error(world: Any) -> None:
    r = run_check(ID, queues={"sync": {"service": "propertyfeedtemplate-sync-v2"}})
    assert r.status == CheckStatus.fail
    f = r.findings[0]
    assert f.uid == "ecs.service:service_missing:propertyfeedtemplate-sync-v2"
    assert {"ecs.service_missing", "ecs.zero_running"} == set(f.signals)


def test_zero_running_and_not_steady(world: Any) -> None:
    s = backend_service(CLUSTER, SYNC)
    s.running_count, s.pending_count = 0, 1
    i = backend_service(CLUSTER, IMAGE)
    i.desired_count, i.running_count, i.pending_count = 2, 1, 1
    r = run_check(ID)
    assert r.status == CheckStatus.fail
    by_uid = {f.uid: f for f in r.findings}
    assert by_uid[f"ecs.service:zero_running:{SYNC}"].signals == ["ecs.zero_running"]
    assert by_uid[f"ecs.service:not_steady:{IMAGE}"].signals == ["ecs.not_steady"]
    assert f"ecs.service:steady:{BULK}" in by_uid


def test_circuit_breaker_and_deployment_in_progress(world: Any) -> None:
    s = backend_service(CLUSTER, SYNC)
    primary = dict(s.deployments[0])
    s.deployments = [
        {**primary, "id": "ecs-svc/2", "rolloutState": "FAILED", "failedTasks": 3,
         "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start."},
        {**primary, "status": "ACTIVE"},
    ]
    b = backend_service(CLUSTER, BULK)
    b.deployments = [{**dict(b.deployments[0]), "rolloutState": "IN_PROGRESS"}]
    r = run_check(ID)
    by_uid = {f.uid: f for f in r.findings}
    cb = by_uid[f"ecs.service:circuit_breaker_tripped:{SYNC}"]
    assert cb.signals == ["ecs.circuit_breaker_tripped"] and "circuit breaker" in cb.title
    assert cb.evidence["deployments"][0]["failedTasks"] == 3
    assert by_uid[f"ecs.service:deployment_in_progress:{BULK}"].severity.value == "warning"
    assert r.status == CheckStatus.fail


def test_recent_unable_to_start_event(world: Any) -> None:
    now = datetime.now(UTC)
    backend_service(CLUSTER, IMAGE).events = [
        {"id": "1", "createdAt": now - timedelta(minutes=2),
         "message": f"(service {IMAGE}) is unable to consistently start tasks successfully. For more information, "
                    "see the Troubleshooting section."},
        {"id": "0", "createdAt": now - timedelta(days=2),
         "message": f"(service {SYNC}) was unable to place a task because no container instance met all of its "
                    "requirements."},
    ]
    backend_service(CLUSTER, SYNC).events = [
        {"id": "2", "createdAt": now - timedelta(days=2), "message": f"(service {SYNC}) was unable to place a task"}]
    r = run_check(ID)
    by_uid = {f.uid: f for f in r.findings}
    f = by_uid[f"ecs.service:start_throttled:{IMAGE}"]
    assert set(f.signals) == {"ecs.not_steady", "ecs.restart_storm"}
    assert f"ecs.service:unable_to_place:{SYNC}" not in by_uid  # older than the window
    assert f"ecs.service:steady:{SYNC}" in by_uid


def test_restart_storm_counts_stopped_tasks(moto_session: Any, world: Any) -> None:
    crash(moto_session, world, "bulk", 3, exit_code=1)
    crash(moto_session, world, "sync", 2, exit_code=1)                      # below the threshold of 3
    crash(moto_session, world, "image", 4, stop_code="ServiceSchedulerInitiated", exit_code=143)  # deployments
    r = run_check(ID)
    assert kinds(r) == {"restart_storm", "steady"}
    f = next(f for f in r.findings if f.uid == f"ecs.service:restart_storm:{BULK}")
    assert f.signals == ["ecs.restart_storm"] and f.evidence["counted"] == 3 and f.evidence["threshold"] == 3
    assert run_check(ID, run={"restart_storm": 2}).findings != r.findings  # sync now crosses a lower threshold
    assert f"ecs.service:restart_storm:{SYNC}" in {f.uid for f in run_check(ID, run={"restart_storm": 2}).findings}


def test_desired_count_outside_scale_range(world: Any) -> None:
    backend_service(CLUSTER, BULK).desired_count = 3
    backend_service(CLUSTER, BULK).running_count = 3
    r = run_check(ID)
    f = next(f for f in r.findings if f.uid == f"ecs.service:scale_out_of_range:{BULK}")
    assert f.severity.value == "warning" and f.evidence["scale"] == [0, 1]
    assert "--desired-count 1" in f.remediation
    assert r.status == CheckStatus.warn
    assert run_check(ID, queues={"bulk": {"service": BULK, "scale": [0, 4]}}).status == CheckStatus.passed


def test_describe_services_denied(monkeypatch: pytest.MonkeyPatch, world: Any) -> None:
    deny(monkeypatch, "ecs", "DescribeServices")
    r = run_check(ID)
    assert r.status == CheckStatus.unknown and r.unlock == "ecs:DescribeServices"


def test_history_before_the_current_deployment_is_not_judged(moto_session: Any, world: Any) -> None:
    """Stopped tasks and events of a deployment already replaced (a resolved incident) are history."""
    now = datetime.now(UTC)
    crash(moto_session, world, "bulk", 3, exit_code=1, minutes_ago=30)
    svc = backend_service(CLUSTER, BULK)
    svc.events = [{"id": "1", "createdAt": now - timedelta(minutes=28),
                   "message": f"(service {BULK}) is unable to consistently start tasks successfully."}]
    assert {"restart_storm", "start_throttled"} <= kinds(run_check(ID))  # under the deployment of a day ago
    svc.deployments[0]["createdAt"] = now - timedelta(minutes=20)  # the fix, deployed after the crash loop
    r = run_check(ID)
    assert r.status == CheckStatus.passed, [f.uid for f in r.findings]
    steady = next(f for f in r.findings if f.uid == f"ecs.service:steady:{BULK}")
    assert steady.evidence["stopped_in_window"] == 0 and steady.evidence["stopped_before_current_deployment"] == 3
