"""What a view says a new task of a queue would meet, and what it reads of the consumers (build_views on a
synthetic report and facts): root causes on the queue, platform-wide, or about the network path of the services
with the same security groups and subnets; where Redis/Aurora were reached from; consumers, head, attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from doctor.config import Config
from doctor.model import (
    CauseState,
    CheckResult,
    CheckStatus,
    Diagnosis,
    Finding,
    Report,
    RootCause,
    RunInfo,
    Scope,
    Severity,
    Target,
    ToolInfo,
)
from doctor.rollout.views import build_views

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SHARED = {"securityGroups": ["sg-workers"], "subnets": ["subnet-a", "subnet-b"]}


class Facts:
    """sync and bulk at 1 with the shared worker SG; image drained to 0, on ``image_net``."""

    def __init__(self, image_net: dict[str, Any]) -> None:
        self.image_net = image_net

    def services(self) -> dict[str, dict[str, Any] | None]:
        dep = [{"status": "PRIMARY", "rolloutState": "COMPLETED", "createdAt": NOW - timedelta(hours=2)}]
        out: dict[str, dict[str, Any] | None] = {}
        for q, n in (("sync", 1), ("image", 0), ("bulk", 1)):
            net = self.image_net if q == "image" else SHARED
            out[f"propertyfeedtemplate-{q}"] = {"desiredCount": n, "runningCount": n, "pendingCount": 0,
                                                "deployments": dep,
                                                "networkConfiguration": {"awsvpcConfiguration": net}}
        return out

    def tasks(self, service: str, desired_status: str = "RUNNING") -> list[dict[str, Any]]:
        return []


def report(results: dict[str, list[Finding]], roots: list[RootCause]) -> Report:
    checks = [CheckResult(id=cid, title=cid, order=i, status=CheckStatus.fail, findings=fs)
              for i, (cid, fs) in enumerate(results.items())]
    return Report(tool=ToolInfo(version="t"), run=RunInfo(id="r", started_at=NOW.isoformat()),
                  target=Target(cluster="propertyfeedtemplate-production"), checks=checks,
                  diagnosis=Diagnosis(root_causes=roots))


def reach(service: str, outcome: str) -> Finding:
    return Finding(uid=f"reach.redis:{outcome}:task:{service}", severity=Severity.error if outcome != "ok" else
                   Severity.info, title=f"Redis {outcome}", signals=[f"reach.redis_{outcome}"],
                   evidence={"vantage": f"task:{service}", "outcome": outcome, "transport": "ecs-exec"})


def root(playbook: str, cause: str, evidence: list[str], *queues: str) -> RootCause:
    return RootCause(playbook=playbook, cause=cause, state=CauseState.confirmed, score=0.9, evidence=evidence,
                     scope=Scope(queues=list(queues), services=[f"propertyfeedtemplate-{q}" for q in queues]))


def test_a_network_root_cause_of_the_peers_holds_for_a_new_task_with_their_network() -> None:
    timeout = reach("propertyfeedtemplate-sync", "timeout")
    path = root("timeout-symptoms", "redis-path-unhealthy", [timeout.uid], "sync")
    r = report({"reach.redis": [timeout]}, [path])
    image = build_views(r, Facts(SHARED), Config())["image"]
    assert image.network_peers == ["propertyfeedtemplate-bulk", "propertyfeedtemplate-sync"]
    assert [(a.name, a.where) for a in image.root_causes] == [
        ("timeout-symptoms/redis-path-unhealthy", "on sync: the same security groups and subnets")]
    assert image.unreached == {"Redis": ["task:propertyfeedtemplate-sync via ecs-exec: timeout"]}
    # image on its own SG: sync's network says nothing about it
    own = build_views(r, Facts({"securityGroups": ["sg-image"], "subnets": ["subnet-a", "subnet-b"]}), Config())
    assert own["image"].network_peers == [] and own["image"].root_causes == [] and own["image"].unreached == {}


def test_queue_and_platform_wide_root_causes_apply_others_do_not() -> None:
    image_bad = root("no-steady-state", "bad-container-image", [], "image")
    sync_bad = root("no-steady-state", "bad-bootstrap", [], "sync")  # not about the network: sync's own
    everywhere = root("jobs-fail-immediately", "bad-db-host", [])
    views = build_views(report({}, [image_bad, sync_bad, everywhere]), Facts(SHARED), Config())
    assert [(a.name, a.where) for a in views["image"].root_causes] == [
        ("no-steady-state/bad-container-image", "on image"), ("jobs-fail-immediately/bad-db-host", "platform-wide")]
    assert views["image"].causes == ["no-steady-state/bad-container-image (confirmed)",
                                     "jobs-fail-immediately/bad-db-host (confirmed)"]


def test_reached_from_the_peers_and_the_baseline_from_the_config() -> None:
    r = report({"reach.redis": [reach("propertyfeedtemplate-bulk", "ok")]}, [])
    config = Config.model_validate({"queues": {"image": {"service": "propertyfeedtemplate-image", "scale": [0, 3],
                                                         "baseline": 2, "healthy_backlog_per_task": 8}}})
    image = build_views(r, Facts(SHARED), config)["image"]
    assert image.reached == {} and (image.baseline, image.healthy_backlog_per_task) == (2, 8)  # bulk: not configured
    image = build_views(r, Facts(SHARED), Config())["image"]
    assert image.reached == {"Redis": ["task:propertyfeedtemplate-bulk via ecs-exec"]} and image.baseline == 1


def test_consumers_head_attempts_and_failed_jobs_from_queue_state() -> None:
    depth = Finding(uid="queue.state:depth:image", severity=Severity.info, title="image: 4 ready",
                    evidence={"queue": "image", "ready": 4, "reserved": 1, "delayed": 2,
                              "head_jobs": [{"id": "job7", "attempts": 1}, {"id": "job8", "attempts": 0}],
                              "consumers": [{"service": "propertyfeedtemplate-image", "consuming": True,
                                             "jobs_done": 12, "last_job_at": "2026-11-30T11:59:30+00:00"}]})
    failing = Finding(uid="queue.state:failing_requeue:image", severity=Severity.error, title="requeue",
                      signals=["queue.failing_requeue"],
                      evidence={"queue": "image", "delayed_sample": [{"job": "x", "attempts": 3}]})
    failed = Finding(uid="queue.state:failed_jobs_recent:image", severity=Severity.warning, title="failed",
                     signals=["queue.failed_jobs_recent"], evidence={"queue": "image", "failed_last_hour": 9})
    image = build_views(report({"queue.state": [depth, failing, failed]}, []), Facts(SHARED), Config())["image"]
    assert (image.backlog, image.consuming, image.jobs_done, image.last_job_at, image.head_job) == (
        7, True, 12, "2026-11-30T11:59:30+00:00", "job7")
    assert image.max_attempts == 3 and image.failed_last_hour == 9
