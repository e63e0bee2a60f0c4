"""The AWS-side sources besides CloudTrail, against the moto world: SSM parameter versions (no value ever read into
the timeline, no call for a quiet parameter), ECS deployments / failing service events / task stops, the first
and last log line of each error signature, and what each service is made of (revision, roles, SGs, NACLs)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from doctor.aws import AwsSession
from doctor.config import Config
from doctor.facts import Facts
from doctor.model import SourceStatus, TimelineKind
from doctor.redact import Redactor
from doctor.sim.world import put_log_events
from doctor.timeline.collect import collect, window_for
from doctor.timeline.context import service_contexts
from doctor.timeline.sources import SourceRead

from support import ecs_helpers
from support.ecs_helpers import backend_service, crash, deny

moto_session = ecs_helpers.moto_session  # overrides conftest's: the shared botocore loader

IMAGE = "propertyfeedtemplate-image"


@pytest.fixture
def world(moto_session: Any) -> Any:
    from doctor.sim.world import build_world

    return build_world(moto_session)


def _facts() -> Facts:
    return Facts(Config(aws={"region": "eu-west-1"}), AwsSession("eu-west-1"), Redactor())


def _read(name: str, facts: Facts | None = None, max_pages: int = 5) -> SourceRead:
    facts = facts or _facts()
    facts.config.timeline.max_pages = max_pages
    reads = collect(facts, window_for(facts.config), facts.redactor).reads
    return next(r for r in reads if r.name == name)


def test_parameter_versions_in_the_window_never_their_values(world: Any, moto_session: Any,
                                                             cloudtrail: Any) -> None:
    ssm = moto_session.client("ssm")
    name = world.param("DB_HOST")
    ssm.put_parameter(Name=name, Value="db-rotated.example.internal", Type="String", Overwrite=True)
    facts = _facts()
    out = _read("ssm-history", facts)
    assert out.status == SourceStatus.ok
    versions = [e for e in out.events if e.resources == [f"param:{name}"]]
    assert {e.detail["version"] for e in versions} == {1, 2}
    assert versions[-1].title.startswith(f"SSM parameter {name} ")
    dumped = json.dumps([e.model_dump(mode="json") for e in out.events])
    assert "db-rotated.example.internal" not in dumped and "s3cret-db-password" not in dumped


def test_a_parameter_unchanged_in_the_window_costs_no_history_call(world: Any, cloudtrail: Any) -> None:
    from moto.ssm.models import ssm_backends

    for versions in ssm_backends["123456789012"]["eu-west-1"]._parameters.values():
        for v in versions:
            v.last_modified_date = datetime.now(UTC) - timedelta(days=3)
    facts = _facts()
    out = _read("ssm-history", facts)
    assert out.events == [] and ("ssm", "GetParameterHistory") not in facts.aws.calls


def test_parameter_history_denied_names_the_action(world: Any, cloudtrail: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    deny(monkeypatch, "ssm", "GetParameterHistory")
    out = _read("ssm-history")
    assert (out.status, out.unlock) == (SourceStatus.missing, "ssm:GetParameterHistory")


def test_ecs_stops_deployments_and_failing_service_events(world: Any, moto_session: Any, cloudtrail: Any) -> None:
    crash(moto_session, world, "image", n=3, reason="CannotPullContainerError: pull image manifest: not found",
          stop_code="TaskFailedToStart", exit_code=None, minutes_ago=5)
    crash(moto_session, world, "bulk", n=2, reason="Scaling activity initiated by (deployment ecs-svc/1)",
          stop_code="ServiceSchedulerInitiated", exit_code=0, minutes_ago=7)
    svc = backend_service(world.spec.cluster, IMAGE)
    svc.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": datetime.now(UTC) - timedelta(minutes=4),
                          "message": f"(service {IMAGE}) is unable to consistently start tasks successfully."})
    svc.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": datetime.now(UTC) - timedelta(minutes=2),
                          "message": f"(service {IMAGE}) has reached a steady state."})
    svc.deployments[0]["createdAt"] = datetime.now(UTC) - timedelta(minutes=30)
    out = _read("ecs")
    by_id = {e.id: e for e in out.events}
    stops = by_id[f"ecs-task:{IMAGE}:image_pull_failed"]
    assert stops.kind == TimelineKind.symptom and stops.signals == ["startup.image_pull_failed"]
    assert stops.detail["stops"] == 3 and stops.title.startswith(f"{IMAGE}: first of 3 task stops: cannot pull")
    assert by_id["ecs-task:propertyfeedtemplate-bulk:expected"].kind == TimelineKind.info
    events = [e for e in out.events if e.source == "ecs-event"]
    assert [e.title for e in events] == [f"(service {IMAGE}) is unable to consistently start tasks successfully."]
    deployment = next(e for e in out.events if e.source == "ecs-deployment")
    assert deployment.kind == TimelineKind.change and deployment.resources[0] == f"service:{IMAGE}"
    assert deployment.resources[1] == f"taskdef:{IMAGE}"


def _log(session: Any, world: Any, lines: list[tuple[float, str]]) -> None:
    now = time.time()
    put_log_events(session.client("logs"), world.log_groups[IMAGE], "ecs/app/task-1",
                   [(now - minutes * 60, line) for minutes, line in lines])


def test_first_and_last_line_of_each_signature(world: Any, moto_session: Any, cloudtrail: Any) -> None:
    timeout = "RedisException: Connection timed out [tcp://master.ame-redis:6379]"
    _log(moto_session, world, [(50, timeout), (30, "   INFO  Processing jobs"), (20, timeout), (10, timeout),
                               (15, "PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted")])
    out = _read("logs")
    by_signal = {e.signals[0]: e for e in out.events if e.services == [IMAGE]}
    redis = by_signal["logs.redis_timeout"]
    assert redis.id == f"logs:{IMAGE}:logs.redis_timeout" and redis.detail["lines"] == 3
    assert datetime.fromisoformat(redis.detail["last"]) - datetime.fromisoformat(redis.at) == timedelta(minutes=40)
    assert redis.detail["sample"] == timeout
    assert set(by_signal) == {"logs.redis_timeout", "logs.memory_exhausted"}


def test_the_log_page_bound_is_reported(world: Any, moto_session: Any, cloudtrail: Any,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import doctor.timeline.logs as logs

    monkeypatch.setattr(logs, "PAGE_LIMIT", 2)
    _log(moto_session, world, [(50 - i, "Connection refused [tcp://redis:6379]") for i in range(6)])
    out = _read("logs", max_pages=2)
    assert out.status == SourceStatus.partial and "more than 2 pages" in out.note
    counted = next(e for e in out.events if e.services == [IMAGE]).detail["lines"]
    assert 0 < counted < 6  # two pages of two events: the last lines were not read


def test_what_each_service_is_made_of(world: Any, cloudtrail: Any) -> None:
    contexts = service_contexts(_facts())
    ctx = contexts[IMAGE]
    assert ctx.taskdef == IMAGE and ctx.roles == ["ame-ecs-execution", "ame-worker-task"]
    assert ctx.security_groups == [world.worker_sg] and ctx.subnets == list(world.worker_subnets)
    assert len(ctx.nacls) == 1 and ctx.nacls[0].startswith("acl-")
    assert (ctx.log_group, ctx.stream_prefix) == (world.log_groups[IMAGE], "ecs/app/")


def test_every_call_the_timeline_makes_is_in_the_iam_policy(world: Any, cloudtrail: Any) -> None:
    from doctor.aws import iam_action
    from doctor.iam import TIMELINE_ACTIONS

    facts = _facts()
    collect(facts, window_for(facts.config), facts.redactor)
    called = {iam_action(service, op) for service, op in facts.aws.calls}
    assert "cloudtrail:LookupEvents" in called and called <= set(TIMELINE_ACTIONS)
