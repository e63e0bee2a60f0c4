"""The gate's rules, one by one, on synthetic queue views (allowed and refused cases for each)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from doctor.rollout.rules import GateRequest, evaluate
from doctor.rollout.views import QueueView

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
    ok = decide(GateRequest(scale={"sync": 1}), views(sync={"desired": 0, "running": 0}))
    assert ok[0], ok[1]["priority"].detail
    bad = decide(GateRequest(scale={"sync": 1}), views(sync={"desired": 0, "running": 0},
                                                          image={"failing": {"ecs.startup": ["crash"]}}))
    assert not bad[0] and bad[1]["priority"].verdict == "fail" and "image" in bad[1]["priority"].detail


def test_priority_bulk_needs_image_and_sync_healthy() -> None:
    assert decide(GateRequest(scale={"bulk": 1}))[0]
    allowed, rules, _ = decide(GateRequest(scale={"bulk": 1}), views(sync={"running": 0}))
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
