"""``ame-doctor gate``: the platform's scaling and cutover rules, enforced before anyone scales.

The gate never changes anything. It runs the real checks, builds one view per queue (service counts,
deployments, health, backlog), evaluates every rule, and answers allow or deny with each rule's verdict
and evidence — and, when allowed, the exact ``aws ecs update-service`` command to run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from doctor import __version__

GATE_SCHEMA_VERSION = 1
PRIORITY = ("image", "sync", "bulk")  # widen image first, then sync, then bulk
# checks whose failure for a queue's service blocks widening it
HEALTH_CHECKS = ("ecs.service", "ecs.startup", "reach.redis", "reach.aurora", "queue.state")
CONNECTIVITY_PREFIXES = ("reach.redis_", "reach.aurora_", "logs.db_", "logs.redis_", "dns.")
FAILING_QUEUE_SIGNALS = {"queue.failing_requeue", "queue.attempts_exhausted", "logs.max_attempts"}
NOT_STEADY_SIGNALS = {"ecs.not_steady", "ecs.zero_running", "ecs.restart_storm", "ecs.circuit_breaker_tripped",
                      "ecs.deployment_in_progress"}


class GateUsageError(Exception):
    pass


# --- the decision (a versioned document, like the report) -----------------------------------
class RuleVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    verdict: Literal["pass", "fail", "overridden", "not-applicable"]
    detail: str
    evidence: dict[str, Any] = Field(default_factory=dict)


class GateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: dict[str, int] = Field(default_factory=dict)
    release_host_consumers: list[str] = Field(default_factory=list)
    override_range: bool = False
    reason: str | None = None
    soak_minutes: int = 15


class GateDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: int = GATE_SCHEMA_VERSION
    tool: dict[str, str] = Field(default_factory=lambda: {"name": "ame-doctor", "version": __version__})
    decided_at: str
    cluster: str
    request: GateRequest
    allowed: bool
    rules: list[RuleVerdict]
    commands: list[str] = Field(default_factory=list)
    override_reason: str | None = None
    report_run_id: str | None = None


# --- per-queue view -------------------------------------------------------------------------
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


def evaluate(request: GateRequest, views: dict[str, QueueView], now: datetime,
             cluster: str) -> tuple[bool, list[RuleVerdict], list[str]]:
    """Apply every rule; allowed only when none fails. Returns (allowed, verdicts, commands)."""
    rules: list[RuleVerdict] = []
    soak = timedelta(minutes=request.soak_minutes)
    targets = list(request.scale) + [q for q in request.release_host_consumers if q not in request.scale]

    def add(rule_id: str, title: str, ok: bool | None, detail: str, **evidence: Any) -> None:
        verdict: Literal["pass", "fail", "overridden", "not-applicable"]
        verdict = "not-applicable" if ok is None else ("pass" if ok else "fail")
        rules.append(RuleVerdict(id=rule_id, title=title, verdict=verdict, detail=detail, evidence=evidence))

    # 1. one queue at a time, nothing else moving
    add("one-queue-at-a-time", "One queue at a time", len(targets) <= 1,
        f"request changes {len(targets)} queue(s): {', '.join(targets) or '-'}" if len(targets) > 1
        else f"request changes {targets[0] if targets else 'nothing'}", queues=targets)
    moving = []
    for v in views.values():
        recent = v.last_change is not None and now - v.last_change < soak
        if v.deployments_in_progress or recent:
            moving.append({"queue": v.queue, "service": v.service, "deployments_in_progress": v.deployments_in_progress,
                           "last_change": v.last_change.isoformat() if v.last_change else None})
    add("nothing-in-flight", f"No deployment in progress or change within the soak window ({request.soak_minutes} min)",
        not moving, "; ".join(f"{m['service']} changed at {m['last_change']}" +
                              (f" with {m['deployments_in_progress']} deployment(s) in progress"
                               if m["deployments_in_progress"] else "") for m in moving) or "all services settled",
        services=moving)

    commands: list[str] = []
    for queue, count in request.scale.items():
        v = views[queue]
        if not v.exists:
            add("service-exists", f"{v.service} exists", False, f"ECS service {v.service} was not found in {cluster}")
            continue
        lo, hi = v.scale
        in_range = lo <= count <= hi
        if in_range:
            add("scale-range", f"{queue}: {count} within {lo}..{hi}", True, f"allowed range for {queue} is {lo}..{hi}")
        elif request.override_range and request.reason:
            rules.append(RuleVerdict(id="scale-range", title=f"{queue}: {count} outside {lo}..{hi}", verdict="overridden",
                                     detail=f"overridden: {request.reason}", evidence={"range": [lo, hi], "requested": count}))
        else:
            add("scale-range", f"{queue}: {count} outside {lo}..{hi}", False,
                f"{count} is outside the burst/drain range {lo}..{hi}; use --override-range --reason \"...\" to go beyond it",
                range=[lo, hi], requested=count)
        widening = count > v.desired
        if widening:
            problems = {cid: titles for cid, titles in v.failing.items()}
            if not v.steady:
                problems.setdefault("ecs.service", []).append(
                    f"not steady: desired {v.desired}, running {v.running}, pending {v.pending}")
            requeue = sorted(v.signals & FAILING_QUEUE_SIGNALS)
            if requeue:
                problems.setdefault("queue.state", []).append(f"jobs failing and requeueing ({', '.join(requeue)})")
            add("never-widen-failing", f"{queue} is healthy before widening", not problems,
                "; ".join(f"{cid}: {t}" for cid, ts in problems.items() for t in ts[:3]) +
                (f" — diagnosis: {', '.join(v.causes)}" if v.causes and problems else "") if problems
                else f"{v.service} steady at {v.running}/{v.desired}, no failing checks",
                failing_checks=sorted(problems), causes=v.causes)
            before = PRIORITY[:PRIORITY.index(queue)] if queue in PRIORITY else ()
            unhealthy = [q for q in before if q in views and not views[q].healthy]
            add("priority", f"widen in priority order ({' > '.join(PRIORITY)})", not unhealthy,
                f"{queue} may widen only when {', '.join(before)} {'is' if len(before) == 1 else 'are'} healthy at the "
                f"current count; not healthy: {', '.join(unhealthy)}" if unhealthy
                else (f"{', '.join(before)} healthy at current count" if before else f"{queue} widens first"),
                requires=list(before), unhealthy=unhealthy)
        if count == 0:
            empty = v.backlog_known and v.backlog == 0
            add("drain-before-zero", f"{queue} has no work before scaling to 0",
                empty if v.backlog_known else False,
                "queue depth unknown (queue.state could not read Redis): refusing to scale to 0" if not v.backlog_known
                else f"ready {v.ready}, reserved {v.reserved}, delayed {v.delayed}",
                ready=v.ready, reserved=v.reserved, delayed=v.delayed)
        commands.append(f"aws ecs update-service --cluster {cluster} --service {v.service} --desired-count {count}")

    for queue in request.release_host_consumers:
        v = views[queue]
        settled = v.steady and (v.last_change is None or now - v.last_change >= soak) and v.stopped_in_window == 0
        add("release-after-soak", f"{v.service} steady for the soak window", settled,
            f"running {v.running}/{v.desired}, last change {v.last_change.isoformat() if v.last_change else 'unknown'}, "
            f"{v.stopped_in_window} stopped task(s) in the window", stopped=v.stopped_in_window)
        draining = v.backlog_known and (v.backlog == 0 or v.draining is True)
        add("release-backlog-draining", f"{queue} backlog is draining", draining,
            "backlog unknown" if not v.backlog_known else
            f"backlog {v.backlog} ({'draining' if v.draining else 'not shown draining; run with --sample'})")
        conn = sorted(s for s in v.signals if s.startswith(CONNECTIVITY_PREFIXES) and not s.endswith("_ok"))
        add("release-no-connectivity-errors", f"no connectivity errors for {v.service}", not conn,
            ", ".join(conn) or "none", signals=conn)
        if not commands:
            commands.append(f"# ECS {v.service} is proven: stop the host consumers of '{queue}' "
                            f"(e.g. the app hosts' queue:work --queue={queue} supervisor program)")

    allowed = all(r.verdict != "fail" for r in rules)
    return allowed, rules, commands if allowed else []


# --- from a report to views ------------------------------------------------------------------
def _about(check_id: str, f: Any, queue: str, service: str) -> bool:
    ev = f.evidence or {}
    vantage = ev.get("vantage")
    if vantage == "host" and check_id.startswith("reach."):
        return False  # reachability from the operator's own host says nothing about this worker
    return (service in f.resources or ev.get("service") == service or vantage == f"task:{service}"
            or ev.get("queue") == queue)


def _ts(value: Any) -> datetime | None:
    from doctor.facts import _ts as parse

    if value is None:
        return None
    return parse(value)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def build_views(report: Any, facts: Any, config: Any) -> dict[str, QueueView]:
    from doctor.model import Severity

    views: dict[str, QueueView] = {}
    try:
        services = facts.services()
    except Exception:
        services = {}
    causes_by_service: dict[str, list[str]] = {}
    uid_owner = {f.uid: f for _, f in report.findings()}
    for p in report.playbooks:
        for c in p.causes:
            if c.state.value in ("confirmed", "likely"):
                for uid in c.evidence:
                    f = uid_owner.get(uid)
                    for name in (f.resources if f else []):
                        causes_by_service.setdefault(name, []).append(f"{p.id}/{c.id} ({c.state.value})")
    for queue, qcfg in config.queues.items():
        svc = services.get(qcfg.service)
        v = QueueView(queue=queue, service=qcfg.service, scale=tuple(qcfg.scale), exists=svc is not None)
        if svc:
            v.desired = int(svc.get("desiredCount", 0))
            v.running = int(svc.get("runningCount", 0))
            v.pending = int(svc.get("pendingCount", 0))
            deps = svc.get("deployments", []) or []
            v.deployments_in_progress = sum(1 for d in deps if d.get("rolloutState") == "IN_PROGRESS") + max(0, len(deps) - 1)
            times = [t for d in deps for t in (_ts(d.get("updatedAt")), _ts(d.get("createdAt"))) if t]
            v.last_change = max(times) if times else None
            try:
                v.stopped_in_window = len(facts.tasks(qcfg.service, "STOPPED"))
            except Exception:
                v.stopped_in_window = 0
        for check, f in report.findings():
            if not _about(check.id, f, queue, qcfg.service):
                continue
            v.signals.update(f.signals)
            if check.id in HEALTH_CHECKS and f.severity.rank >= Severity.error.rank:
                v.failing.setdefault(check.id, []).append(f.title)
            ev = f.evidence or {}
            if check.id == "queue.state" and ev.get("queue") == queue:
                for attr in ("ready", "reserved", "delayed"):
                    n = _int_or_none(ev.get(attr))
                    if n is not None:
                        setattr(v, attr, n)
                if "queue.draining" in f.signals:
                    v.draining = True
                if "queue.backlog_growing" in f.signals:
                    v.draining = False
        v.causes = sorted(set(causes_by_service.get(qcfg.service, [])))
        views[queue] = v
    return views


# --- CLI ------------------------------------------------------------------------------------
def _parse_scale(values: list[str], queues: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in values:
        name, sep, count = item.partition("=")
        if not sep or not count.strip().isdigit():
            raise GateUsageError(f"--scale takes QUEUE=COUNT (e.g. image=2), got {item!r}")
        if name not in queues:
            hint = " ('default' stays on the app hosts)" if name == "default" else ""
            raise GateUsageError(f"unknown queue {name!r}{hint}; heavy queues: {', '.join(queues)}")
        out[name] = int(count)
    return out


def decide(args: argparse.Namespace, argv: list[str],
           engine_factory: Callable[..., Any] | None = None) -> tuple[GateDecision, Any]:
    import asyncio

    from doctor.cli import load_config_from_args, select_checks
    from doctor.engine import Engine, EngineOptions

    config = load_config_from_args(args)
    scale = _parse_scale(args.scale, config.queues)
    release = []
    for q in args.release_host_consumers:
        if q not in config.queues:
            raise GateUsageError(f"unknown queue {q!r}; heavy queues: {', '.join(config.queues)}")
        release.append(q)
    if not scale and not release:
        raise GateUsageError("nothing to decide: give --scale QUEUE=COUNT or --release-host-consumers QUEUE")
    if args.override_range and not (args.reason or "").strip():
        raise GateUsageError("--override-range needs --reason \"why\" (it is recorded in the decision)")
    soak = args.soak_minutes if args.soak_minutes is not None else config.run.soak_minutes
    request = GateRequest(scale=scale, release_host_consumers=release, override_range=args.override_range,
                          reason=args.reason, soak_minutes=soak)
    checks, only, skip = select_checks(args)
    if not only:
        only = [c.id for c in checks if c.id in HEALTH_CHECKS]
    engine = (engine_factory or Engine)(config, checks, EngineOptions(only=only, skip=skip, argv=["ame-doctor", *argv]))
    report = asyncio.run(engine.run())
    views = build_views(report, engine.facts, config)
    now = datetime.now(UTC)
    allowed, rules, commands = evaluate(request, views, now, config.ecs.cluster)
    decision = GateDecision(decided_at=now.isoformat(), cluster=config.ecs.cluster, request=request, allowed=allowed,
                            rules=rules, commands=commands, report_run_id=report.run.id,
                            override_reason=args.reason if args.override_range else None)
    return decision, engine


def render_decision(d: GateDecision, fmt: str) -> str:
    if fmt == "json":
        return d.model_dump_json(indent=2) + "\n"
    if fmt == "junit":
        from xml.sax.saxutils import escape, quoteattr

        failures = sum(1 for r in d.rules if r.verdict == "fail")
        cases = []
        for r in d.rules:
            body = (f'<failure message={quoteattr(r.detail)}>{escape(r.detail)}</failure>' if r.verdict == "fail"
                    else f"<skipped message={quoteattr(r.verdict)}/>" if r.verdict == "not-applicable" else "")
            cases.append(f'  <testcase classname="ame-doctor.gate" name={quoteattr(r.id + ": " + r.title)}>{body}</testcase>')
        skipped = sum(1 for r in d.rules if r.verdict == "not-applicable")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<testsuite name="ame-doctor gate" tests="{len(d.rules)}" failures="{failures}" errors="0" '
                f'skipped="{skipped}">\n' + "\n".join(cases) + "\n</testsuite>\n")
    mark = {"pass": "PASS", "fail": "FAIL", "overridden": "OVERRIDE", "not-applicable": "n/a"}
    lines = [f"ame-doctor gate — cluster {d.cluster}", ""]
    for r in d.rules:
        lines.append(f"  [{mark[r.verdict]:>8}] {r.title}")
        lines.append(f"             {r.detail}")
    lines.append("")
    lines.append(f"{'ALLOW' if d.allowed else 'DENY'}")
    if d.override_reason:
        lines.append(f"override recorded: {d.override_reason}")
    for c in d.commands:
        lines.append(f"  $ {c}")
    return "\n".join(lines) + "\n"


def cmd_gate(args: argparse.Namespace, argv: list[str]) -> int:
    from doctor.cli import parse_outputs, write_file

    try:
        decision, engine = decide(args, argv)
    except GateUsageError as e:
        print(f"ame-doctor: error: {e}", file=sys.stderr)
        return 2
    fmt = args.format if args.format in ("text", "json", "junit") else "text"
    sys.stdout.write(engine.redactor.scrub(render_decision(decision, fmt)))
    for out_fmt, path in parse_outputs(args.output, "json"):
        write_file(path, engine.redactor.scrub(render_decision(decision, out_fmt if out_fmt in ("json", "junit") else "text")))
        print(f"ame-doctor: wrote {out_fmt} decision to {path}", file=sys.stderr)
    return 0 if decision.allowed else 1


def register(sub: Any, add_run_options: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("gate", help="decide whether a scale change or cutover step is safe (never performs it)",
                       description="Enforce the platform's scaling rules before anyone scales. Exit 0 allow, 1 deny, 2 usage.")
    add_run_options(p)
    g = p.add_argument_group("the change to decide")
    g.add_argument("--scale", action="append", default=[], metavar="QUEUE=COUNT", help="e.g. image=2, bulk=0")
    g.add_argument("--release-host-consumers", action="append", default=[], metavar="QUEUE",
                   help="the last cutover step: stop the app hosts consuming QUEUE")
    g.add_argument("--override-range", action="store_true", help="allow a count outside [queues.X] scale (needs --reason)")
    g.add_argument("--reason", help="why the override is needed (recorded)")
    g.add_argument("--soak-minutes", type=int, help="soak window (default [run] soak_minutes, 15)")
    p.set_defaults(handler=cmd_gate)
