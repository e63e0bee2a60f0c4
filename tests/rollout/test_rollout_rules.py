"""The gate's rules, one by one, on synthetic queue views (allowed and refused cases for each)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from doctor.model import CauseState, RootCause, Scope
from doctor.rollout.rules import GateRequest, changes, classify, evaluate
from doctor.rollout.views import AppliesTo, QueueView

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(hours=2)


def views(**overrides: dict) -> dict[str, QueueView]:
    base = {
        "sync": QueueView("sync", "propertyfeedtemplate-sync", (0, 1), desired=1, running=1, last_change=OLD,
                          ready=0, reserved=0, delayed=0),
        "image": QueueView("image", "propertyfeedtemplate-image", (0, 2), desired=1, running=1, last_change=OLD,
                           ready=5, reserved=1, delayed=0),
        "bulk": QueueView("bulk", "propertyfeedtemplate-bulk", (0, 1), desired=0, running=0, last_change=OLD,
                          ready=0, reserved=0, delayed=0),
    }
    for q, attrs in overrides.items():
        for k, v in attrs.items():
            setattr(base[q], k, v)
    return base


def decide(request: GateRequest, vs: dict[str, QueueView] | None = None):
    allowed, rules, commands = evaluate(request, vs or views(), NOW, "propertyfeedtemplate-production")
    return allowed, {r.id: r for r in rules}, commands


def test_widen_image_within_range_is_allowed_with_command() -> None:
    allowed, rules, commands = decide(GateRequest(scale={"image": 2}))
    assert allowed, {k: (r.verdict, r.detail) for k, r in rules.items()}
    assert commands == ["aws ecs update-service --cluster propertyfeedtemplate-production "
                        "--service propertyfeedtemplate-image --desired-count 2"]


def test_two_queues_at_once_is_refused() -> None:
    allowed, rules, commands = decide(GateRequest(scale={"image": 2, "sync": 1}))
    assert not allowed and rules["one-queue-at-a-time"].verdict == "fail" and commands == []


def test_deployment_in_progress_anywhere_is_refused() -> None:
    allowed, rules, _ = decide(GateRequest(scale={"image": 2}), views(bulk={"deployments_in_progress": 1}))
    assert not allowed and rules["nothing-in-flight"].verdict == "fail"
    assert "propertyfeedtemplate-bulk" in rules["nothing-in-flight"].detail


def test_change_within_soak_window_is_refused_and_zero_soak_allows() -> None:
    recent = views(sync={"last_change": NOW - timedelta(minutes=5)})
    assert not decide(GateRequest(scale={"image": 2}), recent)[0]
    assert decide(GateRequest(scale={"image": 2}, soak_minutes=0), recent)[0]


def test_beyond_range_needs_override_with_reason() -> None:
    allowed, rules, _ = decide(GateRequest(scale={"image": 3}))
    assert not allowed and rules["scale-range"].verdict == "fail"
    allowed, rules, commands = decide(GateRequest(scale={"image": 3}, override_range=True, reason="black friday"))
    assert allowed and rules["scale-range"].verdict == "overridden" and "black friday" in rules["scale-range"].detail
    assert commands and commands[0].endswith("--desired-count 3")


@pytest.mark.parametrize("attrs, words", [
    ({"running": 0, "pending": 1}, "not steady"),
    ({"failing": {"reach.aurora": ["Aurora connect timed out from task:propertyfeedtemplate-image"]}}, "reach.aurora"),
    ({"signals": {"queue.failing_requeue"}}, "requeueing"),
    ({"signals": {"ecs.restart_storm"}}, "not steady"),
])
def test_never_widen_a_failing_queue(attrs: dict, words: str) -> None:
    allowed, rules, commands = decide(GateRequest(scale={"image": 2}), views(image=attrs))
    assert not allowed and commands == []
    assert rules["never-widen-failing"].verdict == "fail" and words in rules["never-widen-failing"].detail


def test_refusal_names_the_playbook_cause() -> None:
    vs = views(image={"failing": {"reach.redis": ["Redis timed out"]},
                      "causes": ["timeout-symptoms/redis-path-unhealthy (confirmed)"]})
    _, rules, _ = decide(GateRequest(scale={"image": 2}), vs)
    assert "redis-path-unhealthy" in rules["never-widen-failing"].detail


def test_scaling_down_a_failing_queue_is_not_blocked_by_health() -> None:
    vs = views(image={"desired": 2, "running": 2, "failing": {"reach.redis": ["x"]}})
    allowed, rules, _ = decide(GateRequest(scale={"image": 1}), vs)
    assert allowed and "never-widen-failing" not in rules


def test_priority_sync_needs_image_healthy() -> None:
    """sync configured with baseline 0: 0 -> 1 is widening it, which waits for image."""
    ok = decide(GateRequest(scale={"sync": 1}), views(sync={"desired": 0, "running": 0, "baseline": 0}))
    assert ok[0], ok[1]["priority"].detail
    bad = decide(GateRequest(scale={"sync": 1}), views(sync={"desired": 0, "running": 0, "baseline": 0},
                                                          image={"failing": {"ecs.startup": ["crash"]}}))
    assert not bad[0] and bad[1]["priority"].verdict == "fail" and "image" in bad[1]["priority"].detail


def test_priority_bulk_needs_image_and_sync_healthy() -> None:
    assert decide(GateRequest(scale={"bulk": 1}), views(bulk={"baseline": 0}))[0]
    allowed, rules, _ = decide(GateRequest(scale={"bulk": 1}), views(sync={"running": 0}, bulk={"baseline": 0}))
    assert not allowed and rules["priority"].evidence["unhealthy"] == ["sync"]


def test_scale_to_zero_only_when_empty() -> None:
    assert decide(GateRequest(scale={"sync": 0}))[0]
    allowed, rules, _ = decide(GateRequest(scale={"image": 0}))
    assert not allowed and rules["drain-before-zero"].verdict == "fail" and "ready 5" in rules["drain-before-zero"].detail
    allowed, rules, _ = decide(GateRequest(scale={"sync": 0}), views(sync={"ready": None}))
    assert not allowed and "unknown" in rules["drain-before-zero"].detail


def test_release_host_consumers_after_soak() -> None:
    ok = decide(GateRequest(release_host_consumers=["image"]), views(image={"draining": True}))
    assert ok[0], {k: r.detail for k, r in ok[1].items()}
    assert "host consumers" in ok[2][0]


@pytest.mark.parametrize("attrs, rule", [
    ({"last_change": NOW - timedelta(minutes=3), "draining": True}, "release-after-soak"),
    ({"stopped_in_window": 2, "draining": True}, "release-after-soak"),
    ({"draining": None}, "release-backlog-draining"),
    ({"draining": True, "signals": {"logs.db_timeout"}}, "release-no-connectivity-errors"),
])
def test_release_host_consumers_refused(attrs: dict, rule: str) -> None:
    allowed, rules, commands = decide(GateRequest(release_host_consumers=["image"]), views(image=attrs))
    assert not allowed and rules[rule].verdict == "fail" and commands == []


def test_no_data_is_a_refusal_not_an_evaluation() -> None:
    """Services unreadable (AWS unreachable): empty views would pass 'nothing in flight'; the gate refuses."""
    request = GateRequest(scale={"image": 2}, soak_minutes=15)
    allowed, rules, commands = evaluate(request, views(), NOW, "propertyfeedtemplate-production",
                                        unreadable="AWS endpoint unreachable: Could not connect")
    assert not allowed and commands == []
    assert [(r.id, r.verdict) for r in rules] == [("data-available", "fail")]
    assert "no data to decide on: AWS endpoint unreachable" in rules[0].detail


def test_nothing_in_flight_names_what_it_read() -> None:
    missing = {q: {"exists": False} for q in ("sync", "image", "bulk")}
    _, rules, _ = decide(GateRequest(scale={"image": 2}), views(**missing))
    assert rules["nothing-in-flight"].detail == "settled: no service found"
    assert rules["service-exists"].verdict == "fail"
    _, rules, _ = decide(GateRequest(scale={"image": 2}))
    assert rules["nothing-in-flight"].detail.startswith("settled: propertyfeedtemplate-sync, ")


# --- waking (0 -> baseline), widening (above it), draining (to 0): the decision names which ----------------
def root(playbook: str, cause: str, *queues: str, steps: tuple[str, ...] = ()) -> RootCause:
    return RootCause(playbook=playbook, cause=cause, state=CauseState.confirmed, score=0.95,
                     scope=Scope(queues=list(queues), services=[f"propertyfeedtemplate-{q}" for q in queues]),
                     next_steps=list(steps))


def drained_image(**attrs: object) -> dict[str, QueueView]:
    """image left at 0 after a drain while the web tier kept pushing: 800 ready, 12 expired reservations of its
    last worker; the diagnosis: nobody consumes it. sync and bulk run with the same SG and subnets."""
    base = {"desired": 0, "running": 0, "ready": 800, "reserved": 12, "delayed": 0,
            "failing": {"queue.state": ["Nothing is popping `image`", "12 reservation(s) expired"]},
            "signals": {"queue.no_consumer", "queue.stale_reservations", "queue.backlog"},
            "root_causes": [AppliesTo(root("queue-not-draining", "workers-not-consuming", "image"), "on image")],
            "network_peers": ["propertyfeedtemplate-sync", "propertyfeedtemplate-bulk"],
            "reached": {"Redis": ["task:propertyfeedtemplate-sync via ecs-exec"],
                        "Aurora": ["task:propertyfeedtemplate-sync via ecs-exec"]}}
    return views(image={**base, **attrs})


def test_request_kinds() -> None:
    assert [classify(c, r, 1) for c, r in ((0, 1), (0, 2), (1, 2), (2, 0), (2, 1), (1, 1))] == [
        "wake", "widen", "widen", "drain", "scale-in", "no-change"]
    assert classify(0, 2, 2) == "wake" and classify(1, 2, 2) == "wake"  # a baseline of 2


def test_waking_a_drained_queue_is_allowed_with_its_exact_command() -> None:
    allowed, rules, commands = decide(GateRequest(scale={"image": 1}), drained_image())
    assert allowed, {k: (r.verdict, r.detail) for k, r in rules.items()}
    assert "never-widen-failing" not in rules and "priority" not in rules
    wake = rules["wake-new-task-would-work"]
    assert wake.verdict == "pass"
    assert wake.detail == ("no root cause says a new task would fail; waking remedies "
                           "queue-not-draining/workers-not-consuming (confirmed); Aurora and Redis reached from "
                           "propertyfeedtemplate-sync (the same security groups and subnets)")
    assert commands == ["aws ecs update-service --cluster propertyfeedtemplate-production "
                        "--service propertyfeedtemplate-image --desired-count 1"]
    (change,) = changes(GateRequest(scale={"image": 1}), drained_image())
    assert (change.kind, change.current, change.requested, change.baseline) == ("wake", 0, 1, 1)


def test_waking_is_refused_when_a_new_task_would_fail_for_a_root_cause() -> None:
    bad_image = AppliesTo(root("no-steady-state", "bad-container-image", "image",
                               steps=("aws ecs describe-tasks --cluster c --tasks <stopped-task-arn>",)), "on image")
    vs = drained_image(root_causes=[*drained_image()["image"].root_causes, bad_image])
    allowed, rules, commands = decide(GateRequest(scale={"image": 1}), vs)
    assert not allowed and commands == []
    assert rules["wake-new-task-would-work"].detail == (
        "a new image task would fail: no-steady-state/bad-container-image (confirmed, on image) — first: "
        "aws ecs describe-tasks --cluster c --tasks <stopped-task-arn>")


def test_waking_is_refused_when_tasks_with_its_network_cannot_connect() -> None:
    vs = drained_image(reached={}, unreached={"Redis": ["task:propertyfeedtemplate-sync via ecs-exec: timeout"]})
    allowed, rules, _ = decide(GateRequest(scale={"image": 1}), vs)
    assert not allowed and rules["wake-new-task-would-work"].detail == (
        "a new image task would fail: Redis not reached from task:propertyfeedtemplate-sync via ecs-exec: timeout")


def test_waking_with_no_task_to_show_connectivity_says_how_to_prove_it() -> None:
    allowed, rules, _ = decide(GateRequest(scale={"image": 1}), drained_image(reached={}))
    assert allowed and rules["wake-new-task-would-work"].detail.endswith(
        "connectivity not shown from inside the VPC (no task runs with its network): run the gate with "
        "--exec probe-task to prove it from a one-off task of its task definition")
    proven = drained_image(reached={"Redis": ["task:propertyfeedtemplate-image via probe-task"]})
    assert decide(GateRequest(scale={"image": 1}), proven)[1]["wake-new-task-would-work"].detail.endswith(
        "Redis reached from a probe task of its task definition")


def test_widening_keeps_every_rule_and_from_zero_wakes_first() -> None:
    allowed, rules, commands = decide(GateRequest(scale={"image": 2}), drained_image())
    assert not allowed and commands == []
    assert rules["never-widen-failing"].verdict == "fail" and "Nothing is popping" in rules["never-widen-failing"].detail
    assert rules["wake-first"].detail == ("image is at 0, below its baseline 1: wake it first (--scale image=1), then "
                                          "widen once it is healthy there")


def test_draining_keeps_drain_before_zero() -> None:
    allowed, rules, _ = decide(GateRequest(scale={"image": 0}), views(image={"ready": 0, "reserved": 0}))
    assert allowed and rules["drain-before-zero"].verdict == "pass"
    (change,) = changes(GateRequest(scale={"image": 0}), views())
    assert change.kind == "drain"


def test_no_change_prints_no_command() -> None:
    allowed, rules, commands = decide(GateRequest(scale={"image": 1}))
    assert allowed and rules["change"].verdict == "not-applicable" and commands == []
