"""The platform's scaling and cutover rules: a request and the queues' views in, a verdict per rule out.

The rules never change anything. Allowed only when no rule fails; when allowed, the commands to run
(``aws ecs update-service ...``, or the host-consumer step of the cutover).

A scale request is one of, as the platform defines them (the decision names which):

- *wake*: from below the queue's baseline (0 after a drain) up to it. Allowed when nothing says a new task
  of the service would fail: no root cause on its queue or platform-wide, none about the network path of the
  services with the same security groups and subnets, no connectivity failure from their tasks. The queue's
  own symptoms of being at zero (a backlog, expired reservations of its last worker, overdue delayed jobs:
  "nobody is consuming", or "the controller did not wake it") are what waking remedies, not reasons to stay.
- *widen*: above the baseline, within the range: every rule — the queue healthy first, priority order.
- *drain*: down to 0: only with no work left (drain before zero).
- *scale-in* (down, not to 0) and *no-change* need only the global rules and the range.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from doctor import __version__
from doctor.rollout.views import CONNECTIVITY_PREFIXES, FAILING_QUEUE_SIGNALS, QueueView

GATE_SCHEMA_VERSION = 2  # 2: changes[] names each request's kind (wake / widen / drain / scale-in / no-change)
PRIORITY = ("image", "sync", "bulk")  # widen image first, then sync, then bulk
Verdict = Literal["pass", "fail", "overridden", "not-applicable"]
Kind = Literal["wake", "widen", "drain", "scale-in", "no-change"]
# root causes that waking the queue remedies: nothing consumes it, the controller did not wake it
WAKE_REMEDIES = {"queue-not-draining/workers-not-consuming", "queue-not-draining/scaler-not-waking"}
CONNECTIVITY_BURSTS = {"sentry.redis_burst", "sentry.db_burst"}


class RuleVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    verdict: Verdict
    detail: str
    evidence: dict[str, Any] = Field(default_factory=dict)


class Change(BaseModel):
    """One queue's requested count, and which kind of change it is."""

    model_config = ConfigDict(extra="forbid")
    queue: str
    service: str
    kind: Kind
    current: int
    requested: int
    baseline: int
    range: tuple[int, int]

    @property
    def summary(self) -> str:
        return (f"{self.kind.upper()} {self.queue} {self.current} -> {self.requested} (baseline {self.baseline}, "
                f"range {self.range[0]}..{self.range[1]})")


class GateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: dict[str, int] = Field(default_factory=dict)
    release_host_consumers: list[str] = Field(default_factory=list)
    override_range: bool = False
    reason: str | None = None
    soak_minutes: int = 15


class GateDecision(BaseModel):
    """The gate's answer: a versioned document, like the report."""

    model_config = ConfigDict(extra="forbid")
    schema_version: int = GATE_SCHEMA_VERSION
    tool: dict[str, str] = Field(default_factory=lambda: {"name": "ame-doctor", "version": __version__})
    decided_at: str
    cluster: str
    request: GateRequest
    allowed: bool
    changes: list[Change] = Field(default_factory=list)
    rules: list[RuleVerdict]
    commands: list[str] = Field(default_factory=list)
    override_reason: str | None = None
    report_run_id: str | None = None


class _Verdicts(list[RuleVerdict]):
    def add(self, rule_id: str, title: str, ok: bool | None, detail: str, **evidence: Any) -> None:
        verdict: Verdict = "not-applicable" if ok is None else ("pass" if ok else "fail")
        self.append(RuleVerdict(id=rule_id, title=title, verdict=verdict, detail=detail, evidence=evidence))


def _global_rules(out: _Verdicts, request: GateRequest, views: dict[str, QueueView], now: datetime) -> None:
    """One queue at a time, and nothing else moving within the soak window."""
    soak = timedelta(minutes=request.soak_minutes)
    targets = list(request.scale) + [q for q in request.release_host_consumers if q not in request.scale]
    out.add("one-queue-at-a-time", "One queue at a time", len(targets) <= 1,
            f"request changes {len(targets)} queue(s): {', '.join(targets) or '-'}" if len(targets) > 1
            else f"request changes {targets[0] if targets else 'nothing'}", queues=targets)
    moving = []
    for v in views.values():
        recent = v.last_change is not None and now - v.last_change < soak
        if v.deployments_in_progress or recent:
            moving.append({"queue": v.queue, "service": v.service, "deployments_in_progress": v.deployments_in_progress,
                           "last_change": v.last_change.isoformat() if v.last_change else None})
    out.add("nothing-in-flight",
            f"No deployment in progress or change within the soak window ({request.soak_minutes} min)",
            not moving, "; ".join(f"{m['service']} changed at {m['last_change']}" +
                                  (f" with {m['deployments_in_progress']} deployment(s) in progress"
                                   if m["deployments_in_progress"] else "") for m in moving) or
            f"settled: {', '.join(v.service for v in views.values() if v.exists) or 'no service found'}",
            services=moving)


def classify(current: int, requested: int, baseline: int) -> Kind:
    """Which change ``current -> requested`` is for a queue whose baseline is ``baseline``."""
    if requested == current:
        return "no-change"
    if requested == 0:
        return "drain"
    if requested < current:
        return "scale-in"
    return "wake" if requested <= baseline else "widen"


def _wake_rules(out: _Verdicts, queue: str, v: QueueView) -> None:
    """Waking (up to the baseline): allowed when nothing says a new task of the service would fail."""
    blockers = [a for a in v.root_causes if a.name not in WAKE_REMEDIES]
    remedies = [a for a in v.root_causes if a.name in WAKE_REMEDIES]
    unreached = [f"{target} not reached from {where}" for target, wheres in v.unreached.items() for where in wheres]
    bursts = sorted(v.signals & CONNECTIVITY_BURSTS)
    title = f"{queue}: a new task of {v.service} would start and work"
    evidence: dict[str, Any] = {
        "blocking_root_causes": [{"cause": a.name, "state": a.root.state.value, "where": a.where} for a in blockers],
        "remedied_root_causes": [{"cause": a.name, "state": a.root.state.value} for a in remedies],
        "reached": v.reached, "unreached": v.unreached, "connectivity_bursts": bursts,
        "network_peers": v.network_peers}
    if blockers or unreached or bursts:
        why = [f"{a.name} ({a.root.state.value}, {a.where})" +
               (f" — first: {a.root.next_steps[0]}" if a.root.next_steps else "") for a in blockers]
        why += unreached + [f"active Sentry connectivity burst ({s})" for s in bursts]
        out.add("wake-new-task-would-work", title, False,
                f"a new {queue} task would fail: " + "; ".join(why), **evidence)
        return
    said = ", ".join(f"{a.name} ({a.root.state.value})" for a in remedies)
    out.add("wake-new-task-would-work", title, True,
            "no root cause says a new task would fail" + (f"; waking remedies {said}" if said else "") +
            f"; {_proof(v)}", **evidence)


def _proof(v: QueueView) -> str:
    """Where a new task's Redis and Aurora connectivity was shown from (or that it was not)."""
    vantages = [(w.split(" ")[0], w) for ws in v.reached.values() for w in ws]  # ("task:<service>", text)
    own = [w for vantage, w in vantages if vantage == f"task:{v.service}"]
    peers = sorted({vantage.removeprefix("task:") for vantage, _ in vantages if vantage != f"task:{v.service}"})
    targets = " and ".join(sorted(v.reached)) or "nothing"
    if own:
        via = {w.partition(" via ")[2] for w in own}
        how = ("a probe task of its task definition" if "probe-task" in via else
               "its running tasks" if via == {"ecs-exec"} else f"its vantage ({', '.join(sorted(via - {''}))})")
        return f"{targets} reached from {how}"
    if peers:
        return f"{targets} reached from {', '.join(peers)} (the same security groups and subnets)"
    return ("connectivity not shown from inside the VPC (no task runs with its network): run the gate with "
            "--exec probe-task to prove it from a one-off task of its task definition")


def _widen_rules(out: _Verdicts, queue: str, v: QueueView, views: dict[str, QueueView]) -> None:
    """Never widen a failing queue; widen in priority order."""
    problems = {cid: titles for cid, titles in v.failing.items()}
    if not v.steady:
        problems.setdefault("ecs.service", []).append(
            f"not steady: desired {v.desired}, running {v.running}, pending {v.pending}")
    requeue = sorted(v.signals & FAILING_QUEUE_SIGNALS)
    if requeue:
        problems.setdefault("queue.state", []).append(f"jobs failing and requeueing ({', '.join(requeue)})")
    out.add("never-widen-failing", f"{queue} is healthy before widening", not problems,
            "; ".join(f"{cid}: {t}" for cid, ts in problems.items() for t in ts[:3]) +
            (f" — diagnosis: {', '.join(v.causes)}" if v.causes and problems else "") if problems
            else f"{v.service} steady at {v.running}/{v.desired}, no failing checks",
            failing_checks=sorted(problems), causes=v.causes)
    before = PRIORITY[:PRIORITY.index(queue)] if queue in PRIORITY else ()
    unhealthy = [q for q in before if q in views and not views[q].healthy]
    out.add("priority", f"widen in priority order ({' > '.join(PRIORITY)})", not unhealthy,
            f"{queue} may widen only when {', '.join(before)} {'is' if len(before) == 1 else 'are'} healthy at the "
            f"current count; not healthy: {', '.join(unhealthy)}" if unhealthy
            else (f"{', '.join(before)} healthy at current count" if before else f"{queue} widens first"),
            requires=list(before), unhealthy=unhealthy)


def _scale_rules(out: _Verdicts, request: GateRequest, change: Change, v: QueueView,
                 views: dict[str, QueueView]) -> None:
    """Within the burst/drain range (or overridden with a reason); then the kind's own rules."""
    queue, count = change.queue, change.requested
    lo, hi = v.scale
    if lo <= count <= hi:
        out.add("scale-range", f"{queue}: {count} within {lo}..{hi}", True, f"allowed range for {queue} is {lo}..{hi}")
    elif request.override_range and request.reason:
        out.append(RuleVerdict(id="scale-range", title=f"{queue}: {count} outside {lo}..{hi}", verdict="overridden",
                               detail=f"overridden: {request.reason}", evidence={"range": [lo, hi], "requested": count}))
    else:
        out.add("scale-range", f"{queue}: {count} outside {lo}..{hi}", False,
                f"{count} is outside the burst/drain range {lo}..{hi}; use --override-range --reason \"...\" to go "
                "beyond it", range=[lo, hi], requested=count)
    if change.kind == "wake":
        _wake_rules(out, queue, v)
    elif change.kind == "widen":
        _widen_rules(out, queue, v, views)
        if change.current < change.baseline:
            out.add("wake-first", f"{queue}: wake to the baseline before widening", False,
                    f"{queue} is at {change.current}, below its baseline {change.baseline}: wake it first "
                    f"(--scale {queue}={change.baseline}), then widen once it is healthy there",
                    baseline=change.baseline)
    elif change.kind == "drain":
        empty = v.backlog_known and v.backlog == 0
        out.add("drain-before-zero", f"{queue} has no work before scaling to 0",
                empty if v.backlog_known else False,
                "queue depth unknown (queue.state could not read Redis): refusing to scale to 0" if not v.backlog_known
                else f"ready {v.ready}, reserved {v.reserved}, delayed {v.delayed}",
                ready=v.ready, reserved=v.reserved, delayed=v.delayed)
    elif change.kind == "no-change":
        out.add("change", f"{queue}: already at {count}", None, f"{v.service} is already at desired {count}: nothing "
                "to do")


def _release_rules(out: _Verdicts, queue: str, v: QueueView, now: datetime, soak: timedelta) -> None:
    """The last cutover step: ECS has carried the queue for the soak window, draining, without connectivity errors."""
    settled = v.steady and (v.last_change is None or now - v.last_change >= soak) and v.stopped_in_window == 0
    out.add("release-after-soak", f"{v.service} steady for the soak window", settled,
            f"running {v.running}/{v.desired}, last change {v.last_change.isoformat() if v.last_change else 'unknown'}, "
            f"{v.stopped_in_window} stopped task(s) in the window", stopped=v.stopped_in_window)
    draining = v.backlog_known and (v.backlog == 0 or v.draining is True)
    out.add("release-backlog-draining", f"{queue} backlog is draining", draining,
            "backlog unknown" if not v.backlog_known else
            f"backlog {v.backlog} ({'draining' if v.draining else 'not shown draining; run with --sample'})")
    conn = sorted(s for s in v.signals if s.startswith(CONNECTIVITY_PREFIXES) and not s.endswith("_ok"))
    out.add("release-no-connectivity-errors", f"no connectivity errors for {v.service}", not conn,
            ", ".join(conn) or "none", signals=conn)


def changes(request: GateRequest, views: dict[str, QueueView]) -> list[Change]:
    """Each requested count with its kind (wake / widen / drain / scale-in / no-change), for existing services."""
    return [Change(queue=q, service=views[q].service, kind=classify(views[q].desired, n, views[q].baseline),
                   current=views[q].desired, requested=n, baseline=views[q].baseline, range=views[q].scale)
            for q, n in request.scale.items() if views[q].exists]


def evaluate(request: GateRequest, views: dict[str, QueueView], now: datetime,
             cluster: str, unreadable: str | None = None) -> tuple[bool, list[RuleVerdict], list[str]]:
    """Apply every rule; allowed only when none fails. Returns (allowed, verdicts, commands).

    ``unreadable``: why there is no data to decide on (AWS unreachable, the services unreadable). Then no
    rule is evaluated — an empty view would pass "nothing in flight" — and the one verdict is a refusal.
    """
    rules = _Verdicts()
    if unreadable:
        rules.add("data-available", "The gate could read the services and run its checks", False,
                  f"refused: no data to decide on: {unreadable}", reason=unreadable)
        return False, list(rules), []
    _global_rules(rules, request, views, now)
    commands: list[str] = []
    for queue in request.scale:
        v = views[queue]
        if not v.exists:
            rules.add("service-exists", f"{v.service} exists", False, f"ECS service {v.service} was not found in {cluster}")
    for change in changes(request, views):
        _scale_rules(rules, request, change, views[change.queue], views)
        if change.kind != "no-change":
            commands.append(f"aws ecs update-service --cluster {cluster} --service {change.service} "
                            f"--desired-count {change.requested}")
    for queue in request.release_host_consumers:
        v = views[queue]
        _release_rules(rules, queue, v, now, timedelta(minutes=request.soak_minutes))
        if not commands:
            commands.append(f"# ECS {v.service} is proven: stop the host consumers of '{queue}' "
                            f"(e.g. the app hosts' queue:work --queue={queue} supervisor program)")
    allowed = all(r.verdict != "fail" for r in rules)
    return allowed, list(rules), commands if allowed else []
