"""gate and watch read the optional integrations: an active Sentry connectivity burst or a failing controller
refuses widening (a burst tagged with a queue only that queue; untagged, and the controller, every queue); what
the controller did to a queue is its symptom, not a reason to refuse; the soak samples both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from doctor.config import Config
from doctor.model import CheckResult, CheckStatus, Finding, Report, RunInfo, Severity, Target, ToolInfo
from doctor.rollout.rules import GateRequest, evaluate
from doctor.rollout.soak import watch
from doctor.rollout.views import QueueView, build_views

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CLUSTER = "propertyfeedtemplate-production"


class Facts:
    """Three steady services deployed two hours ago: image at 1, sync and bulk at 0."""

    def services(self) -> dict[str, dict[str, Any] | None]:
        dep = [{"status": "PRIMARY", "rolloutState": "COMPLETED", "createdAt": NOW - timedelta(hours=2)}]
        return {f"propertyfeedtemplate-{q}": {"desiredCount": n, "runningCount": n, "pendingCount": 0,
                                              "deployments": dep} for q, n in (("sync", 0), ("image", 1), ("bulk", 0))}

    def tasks(self, service: str, desired_status: str = "RUNNING") -> list[dict[str, Any]]:
        return []


def report(check_id: str, *findings: Finding) -> Report:
    result = CheckResult(id=check_id, title=check_id, order=13, status=CheckStatus.fail, findings=list(findings))
    return Report(tool=ToolInfo(version="t"), run=RunInfo(id="r", started_at=NOW.isoformat()),
                  target=Target(cluster=CLUSTER), checks=[result])


def finding(uid: str, signal: str, severity: Severity = Severity.error, **evidence: Any) -> Finding:
    return Finding(uid=uid, severity=severity, title=uid, signals=[signal], evidence=evidence)


def widen(views: dict[str, QueueView], queue: str) -> tuple[bool, str]:
    """Scale up by one: widening image (1 -> 2), waking sync or bulk (0 -> 1); the health rule's verdict."""
    allowed, rules, _ = evaluate(GateRequest(scale={queue: 2 if queue == "image" else 1}), views, NOW, CLUSTER)
    return allowed, next(r.detail for r in rules if r.id in ("never-widen-failing", "wake-new-task-would-work"))


def test_a_tagged_sentry_burst_refuses_widening_that_queue_only() -> None:
    burst = finding("sentry.errors:redis_burst:W-3", "sentry.redis_burst", queue="image",
                    service="propertyfeedtemplate-image")
    views = build_views(report("sentry.errors", burst), Facts(), Config())
    allowed, detail = widen(views, "image")
    assert not allowed and "sentry.errors: sentry.errors:redis_burst:W-3" in detail
    assert views["sync"].failing == {} and views["bulk"].failing == {}  # (sync still waits for image: priority)


def test_an_untagged_burst_and_a_failing_controller_refuse_every_queue() -> None:
    burst = finding("sentry.errors:db_burst:W-1", "sentry.db_burst")
    views = build_views(report("sentry.errors", burst), Facts(), Config())
    assert not widen(views, "image")[0] and not widen(views, "sync")[0]
    failing = finding("scaler.controller:errors:scaler", "scaler.errors", function="scaler")
    views = build_views(report("scaler.controller", failing), Facts(), Config())
    assert not widen(views, "image")[0] and "scaler.controller" in widen(views, "image")[1]
    # waking a drained queue by hand is what a failing controller leaves to the operator: not refused for it
    assert widen(views, "bulk")[0]


def test_history_and_the_controllers_symptoms_do_not_refuse() -> None:
    old = finding("sentry.errors:historical:W-9", "sentry.historical_open", Severity.info)
    idle = finding("scaler.controller:idle_backlog:propertyfeedtemplate-image", "scaler.idle_with_backlog",
                   service="propertyfeedtemplate-image", queue="image")
    views = build_views(report("sentry.errors", old), Facts(), Config())
    assert widen(views, "image")[0]
    views = build_views(report("scaler.controller", idle), Facts(), Config())
    assert widen(views, "image")[0]
    assert "scaler.idle_with_backlog" in views["image"].signals


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def scripted(signals: list[set[str]]):  # type: ignore[no-untyped-def]
    it = iter(signals)

    def sample() -> dict[str, QueueView]:
        v = QueueView("image", "propertyfeedtemplate-image", (0, 2), desired=1, running=1, ready=0, reserved=0,
                      delayed=0, signals=next(it))
        return {"image": v}

    return sample


def test_the_soak_fails_on_a_fresh_sentry_burst_or_a_failing_controller() -> None:
    c = Clock()
    r = watch(scripted([set(), {"sentry.redis_burst"}, {"sentry.redis_burst"}]), "c", 60, 120, 3, None, c.sleep, c.now)
    q = r.queues[0]
    assert not q.verdicts["no fresh connectivity errors"] and q.verdicts["controller not failing"] and not r.healthy
    c = Clock()
    r = watch(scripted([{"scaler.throttled"}, {"scaler.throttled"}]), "c", 60, 60, 3, None, c.sleep, c.now)
    assert not r.queues[0].verdicts["controller not failing"] and not r.healthy
    c = Clock()
    r = watch(scripted([{"sentry.quiet", "scaler.ok"}, {"sentry.quiet", "scaler.ok"}]), "c", 60, 60, 3, None,
              c.sleep, c.now)
    assert r.healthy, r.queues[0].verdicts
