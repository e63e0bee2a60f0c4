"""One view per heavy queue: what the gate's rules and the soak need to know, from a report and the facts.

A view joins the queue's ECS service (counts, deployments, stopped tasks) with the findings about that
queue or its service (failing health checks, signals, the diagnosis' causes) and its Redis depths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from doctor.config import Config
from doctor.model import Finding, Report, Severity
from doctor.util import parse_datetime, to_int

# checks whose failure (error or worse) for a queue's service blocks widening it
HEALTH_CHECKS = ("ecs.service", "ecs.startup", "reach.redis", "reach.aurora", "queue.state", "sentry.errors",
                 "scaler.controller")
# the optional integrations: their findings about no queue in particular (a Sentry burst without a queue tag,
# the controller itself) are about every queue
PLATFORM_WIDE_CHECKS = ("sentry.errors", "scaler.controller")
CONNECTIVITY_PREFIXES = ("reach.redis_", "reach.aurora_", "logs.db_", "logs.redis_", "dns.", "sentry.redis_burst",
                         "sentry.db_burst")
# the controller itself failing (the simulated role denial is advisory and does not count)
CONTROLLER_FAILING_SIGNALS = {"scaler.missing", "scaler.errors", "scaler.throttled", "scaler.disabled",
                              "scaler.no_redis_path", "scaler.no_ecs_path"}
# what the controller did to a queue: the queue's symptom, not a reason to refuse changing it
CONTROLLER_SYMPTOM_SIGNALS = {"scaler.idle_with_backlog", "scaler.not_waking", "scaler.drained_too_early"}
FAILING_QUEUE_SIGNALS = {"queue.failing_requeue", "queue.attempts_exhausted", "logs.max_attempts"}
NOT_STEADY_SIGNALS = {"ecs.not_steady", "ecs.zero_running", "ecs.restart_storm", "ecs.circuit_breaker_tripped",
                      "ecs.deployment_in_progress"}


class ServiceFacts(Protocol):
    """The part of the run's facts a view reads: ECS services by name and a service's tasks."""

    def services(self) -> dict[str, dict[str, Any] | None]: ...

    def tasks(self, service: str, desired_status: str = "RUNNING") -> list[dict[str, Any]]: ...


@dataclass
class QueueView:
    """What the rules need to know about one heavy queue, taken from the checks' report and facts."""

    queue: str
    service: str
    scale: tuple[int, int]
    exists: bool = True
    desired: int = 0
    running: int = 0
    pending: int = 0
    deployments_in_progress: int = 0
    last_change: datetime | None = None
    stopped_in_window: int = 0
    failing: dict[str, list[str]] = field(default_factory=dict)  # check id -> finding titles (error+)
    signals: set[str] = field(default_factory=set)
    causes: list[str] = field(default_factory=list)  # "playbook/cause (state)"
    ready: int | None = None
    reserved: int | None = None
    delayed: int | None = None
    draining: bool | None = None

    @property
    def steady(self) -> bool:
        return (self.exists and self.running == self.desired and self.pending == 0
                and self.deployments_in_progress == 0 and not (self.signals & NOT_STEADY_SIGNALS))

    @property
    def healthy(self) -> bool:
        return self.steady and not self.failing and not (self.signals & FAILING_QUEUE_SIGNALS)

    @property
    def backlog_known(self) -> bool:
        return None not in (self.ready, self.reserved, self.delayed)

    @property
    def backlog(self) -> int:
        return (self.ready or 0) + (self.reserved or 0) + (self.delayed or 0)


def _about(check_id: str, f: Finding, queue: str, service: str) -> bool:
    ev = f.evidence or {}
    vantage = ev.get("vantage")
    if vantage == "host" and check_id.startswith("reach."):
        return False  # reachability from the operator's own host says nothing about this worker
    if check_id in PLATFORM_WIDE_CHECKS and not ev.get("queue") and not ev.get("service"):
        return True
    return (service in f.resources or ev.get("service") == service or vantage == f"task:{service}"
            or ev.get("queue") == queue)


def _causes_by_service(report: Report) -> dict[str, list[str]]:
    """Confirmed or likely diagnosis causes, keyed by the resources of the findings that support them."""
    out: dict[str, list[str]] = {}
    uid_owner = {f.uid: f for _, f in report.findings()}
    for p in report.playbooks:
        for c in p.causes:
            if c.state.value in ("confirmed", "likely"):
                for uid in c.evidence:
                    f = uid_owner.get(uid)
                    for name in (f.resources if f else []):
                        out.setdefault(name, []).append(f"{p.id}/{c.id} ({c.state.value})")
    return out


def _apply_service(v: QueueView, svc: dict[str, Any], facts: ServiceFacts) -> None:
    """Counts, deployments and stopped tasks of the queue's ECS service (as DescribeServices returns it)."""
    v.desired = int(svc.get("desiredCount", 0))
    v.running = int(svc.get("runningCount", 0))
    v.pending = int(svc.get("pendingCount", 0))
    deps = svc.get("deployments", []) or []
    # a rollout still in progress, or more than one deployment alive, means the service is moving
    v.deployments_in_progress = sum(1 for d in deps if d.get("rolloutState") == "IN_PROGRESS") + max(0, len(deps) - 1)
    times = [t for d in deps for t in (parse_datetime(d.get("updatedAt")), parse_datetime(d.get("createdAt"))) if t]
    v.last_change = max(times) if times else None
    try:
        v.stopped_in_window = len(facts.tasks(v.service, "STOPPED"))
    except Exception:
        v.stopped_in_window = 0


def _apply_findings(v: QueueView, report: Report) -> None:
    """Signals and failing health checks about the queue or its service; its depths from queue.state."""
    for check, f in report.findings():
        if not _about(check.id, f, v.queue, v.service):
            continue
        v.signals.update(f.signals)
        symptom = bool(f.signals) and set(f.signals) <= CONTROLLER_SYMPTOM_SIGNALS
        if check.id in HEALTH_CHECKS and f.severity.rank >= Severity.error.rank and not symptom:
            v.failing.setdefault(check.id, []).append(f.title)
        ev = f.evidence or {}
        if check.id == "queue.state" and ev.get("queue") == v.queue:
            for attr in ("ready", "reserved", "delayed"):
                n = to_int(ev.get(attr))
                if n is not None:
                    setattr(v, attr, n)
            if "queue.draining" in f.signals:
                v.draining = True
            if "queue.backlog_growing" in f.signals:
                v.draining = False


def build_views(report: Report, facts: ServiceFacts, config: Config) -> dict[str, QueueView]:
    """One view per heavy queue of the config, in the config's order."""
    views: dict[str, QueueView] = {}
    try:
        services = facts.services()
    except Exception:
        services = {}
    causes = _causes_by_service(report)
    for queue, qcfg in config.queues.items():
        svc = services.get(qcfg.service)
        v = QueueView(queue=queue, service=qcfg.service, scale=qcfg.scale, exists=svc is not None)
        if svc:
            _apply_service(v, svc, facts)
        _apply_findings(v, report)
        v.causes = sorted(set(causes.get(qcfg.service, [])))
        views[queue] = v
    return views
