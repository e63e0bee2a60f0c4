"""One view per heavy queue: what the gate's rules and the soak need to know, from a report and the facts.

A view joins the queue's ECS service (counts, deployments, stopped tasks) with the findings about that
queue or its service (failing health checks, signals, the diagnosis' root causes) and its Redis depths,
consumers and failures. For waking a queue it also says what a *new* task of its service would meet: the
root causes that hold for it (on its queue, platform-wide, or about the network path of the services that
run with the same security groups and subnets) and where its Redis/Aurora connectivity was shown from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from doctor.config import Config
from doctor.model import Finding, Report, RootCause, Severity
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
REACH_CHECKS = {"reach.redis": "Redis", "reach.aurora": "Aurora"}
# a root cause supported by these checks is about the network path: it holds for every service with the same
# security groups and subnets, running or not
NETWORK_CHECKS = ("reach.redis", "reach.aurora", "sg.ingress", "net.egress", "dns.resolve")
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
    causes: list[str] = field(default_factory=list)  # root causes on the queue or platform-wide: "playbook/cause (state)"
    ready: int | None = None
    reserved: int | None = None
    delayed: int | None = None
    draining: bool | None = None
    baseline: int = 1                  # [queues.X] baseline: waking goes 0 -> baseline, widening above it
    healthy_backlog_per_task: int = 5  # [queues.X] healthy_backlog_per_task: a small flat backlog per running task
    # what a new task of the service would meet (the gate's wake rule)
    root_causes: list[AppliesTo] = field(default_factory=list)
    network_peers: list[str] = field(default_factory=list)  # services with the same security groups and subnets
    reached: dict[str, list[str]] = field(default_factory=dict)    # "Redis" -> ["task:<svc> (probe-task)", ...]
    unreached: dict[str, list[str]] = field(default_factory=dict)  # "Redis" -> ["task:<svc>: timeout", ...]
    # the consumers and failures (the soak)
    consuming: bool | None = None       # a service popping it logged finished jobs recently (None: not read)
    jobs_done: int | None = None        # jobs its consumers logged as done in the log window
    last_job_at: str | None = None
    head_job: str | None = None         # the id of the job at the head of the ready list
    max_attempts: int | None = None     # the highest attempts among the sampled head and delayed jobs
    failed_last_hour: int | None = None  # failed_jobs rows of the queue in the last hour (None: not read)

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


@dataclass(frozen=True)
class AppliesTo:
    """A root cause that holds for a new task of the queue's service, and why it applies there."""

    root: RootCause
    where: str  # "on image", "platform-wide", "on sync, bulk: the same security groups and subnets"

    @property
    def name(self) -> str:
        return f"{self.root.playbook}/{self.root.cause}"


def _about(check_id: str, f: Finding, queue: str, service: str) -> bool:
    ev = f.evidence or {}
    vantage = ev.get("vantage")
    if vantage == "host" and check_id.startswith("reach."):
        return False  # reachability from the operator's own host says nothing about this worker
    if check_id in PLATFORM_WIDE_CHECKS and not ev.get("queue") and not ev.get("service"):
        return True
    return (service in f.resources or ev.get("service") == service or vantage == f"task:{service}"
            or ev.get("queue") == queue)


def _network(svc: dict[str, Any] | None) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """A service's (security groups, subnets), or None without an awsvpc configuration."""
    vpc = ((svc or {}).get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    if not vpc.get("subnets"):
        return None
    return tuple(sorted(vpc.get("securityGroups") or [])), tuple(sorted(vpc["subnets"]))


def _network_borne(root: RootCause, checks_of: dict[str, str]) -> bool:
    return any(checks_of.get(uid) in NETWORK_CHECKS for uid in root.evidence)


def _applies(report: Report, v: QueueView, peer_queues: dict[str, str]) -> list[AppliesTo]:
    """The root causes that hold for a new task of ``v``'s service: on its queue or service, platform-wide, or
    about the network path of a service with the same security groups and subnets (``peer_queues``: queue ->
    service)."""
    checks_of = {f.uid: c.id for c, f in report.findings()}
    out = []
    for root in report.diagnosis.root_causes:
        queues, services = set(root.scope.queues), set(root.scope.services)
        if not queues and not services:
            out.append(AppliesTo(root, "platform-wide"))
        elif v.queue in queues or v.service in services:
            out.append(AppliesTo(root, f"on {v.queue}"))
        elif _network_borne(root, checks_of):
            peers = sorted(q for q, s in peer_queues.items() if q in queues or s in services)
            if peers:
                out.append(AppliesTo(root, f"on {', '.join(peers)}: the same security groups and subnets"))
    return out


def _apply_reach(v: QueueView, report: Report, services: set[str]) -> None:
    """Where Redis and Aurora were reached (or not) from a task of the service or of its network peers."""
    for check, f in report.findings():
        label = REACH_CHECKS.get(check.id)
        ev = f.evidence or {}
        vantage = str(ev.get("vantage") or "")
        if label is None or not vantage.startswith("task:") or vantage[5:] not in services:
            continue
        where = vantage + (f" via {ev['transport']}" if ev.get("transport") else "")
        if ev.get("outcome") == "ok":
            v.reached.setdefault(label, []).append(where)
        elif ev.get("outcome"):
            v.unreached.setdefault(label, []).append(f"{where}: {ev['outcome']}")


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
            _apply_queue_evidence(v, ev)


def _apply_queue_evidence(v: QueueView, ev: dict[str, Any]) -> None:
    """The consumers, the head job, the attempts and failed_jobs from one queue.state finding about the queue."""
    consumers = [c for c in ev.get("consumers") or [] if isinstance(c, dict)]
    if consumers:
        v.consuming = any(bool(c.get("consuming")) for c in consumers)
        v.jobs_done = sum(to_int(c.get("jobs_done")) or 0 for c in consumers)
        v.last_job_at = max((str(c["last_job_at"]) for c in consumers if c.get("last_job_at")), default=None)
    heads = [h for h in ev.get("head_jobs") or [] if isinstance(h, dict)]
    if heads:
        v.head_job = str(heads[0].get("id")) if heads[0].get("id") is not None else None
    attempts = [to_int(h.get("attempts")) for h in [*heads, *(ev.get("delayed_sample") or [])] if isinstance(h, dict)]
    if any(a is not None for a in attempts):
        v.max_attempts = max(a for a in attempts if a is not None)
    failed = to_int(ev.get("failed_last_hour"))
    if failed is not None:
        v.failed_last_hour = failed


def build_views(report: Report, facts: ServiceFacts, config: Config) -> dict[str, QueueView]:
    """One view per heavy queue of the config, in the config's order."""
    views: dict[str, QueueView] = {}
    try:
        services = facts.services()
    except Exception:
        services = {}
    for queue, qcfg in config.queues.items():
        svc = services.get(qcfg.service)
        v = QueueView(queue=queue, service=qcfg.service, scale=qcfg.scale, exists=svc is not None,
                      baseline=qcfg.wake_to, healthy_backlog_per_task=qcfg.healthy_backlog_per_task)
        if svc:
            _apply_service(v, svc, facts)
        _apply_findings(v, report)
        net = _network(svc)
        peers = {q: c.service for q, c in config.queues.items()
                 if q != queue and net is not None and _network(services.get(c.service)) == net}
        v.network_peers = sorted(peers.values())
        v.root_causes = _applies(report, v, peers)
        v.causes = [f"{a.name} ({a.root.state.value})" for a in v.root_causes
                    if a.where in (f"on {queue}", "platform-wide")]
        _apply_reach(v, report, {v.service, *v.network_peers})
        views[queue] = v
    return views
