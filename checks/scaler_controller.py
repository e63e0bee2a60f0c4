"""scaler.controller — the burst/drain controller (a Lambda with its trigger, or Application Auto Scaling)
runs, can act, agrees with the scale ranges, and did not strand a queue (the drain rule, after the fact).

AWS is read through :mod:`doctor.facts.scaler`; the Redis ingress judgement is ``sg.ingress``'s own
(:func:`checks.sg_ingress.evaluate`: the current SG, not old IPs). The queue readings come from
``queue.state``'s ``depth`` findings (this check starts after it); without them the drain rule is unknown.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from checks.sg_ingress import evaluate
from doctor.aws import denied_action
from doctor.checkapi import CheckContext, check, load_meta
from doctor.facts import scaler as sf
from doctor.facts.datastores import redis_store, store_via_chain
from doctor.facts.security_groups import security_groups
from doctor.model import Finding, Severity
from doctor.signatures import match_line
from doctor.util import to_datetime

META = load_meta(__file__)

ROLE_ACTIONS = ("ecs:UpdateService", "ecs:DescribeServices")
DEFAULT_INTERVAL = 60
# Signals that say the controller itself is failing (what makes a backlog at desired 0 its fault).
FAILING = frozenset({"scaler.missing", "scaler.errors", "scaler.throttled", "scaler.disabled", "scaler.no_redis_path",
                     "scaler.no_ecs_path", "scaler.role_denied"})
# The controller's log lines, classified (first match wins); Redis lines also through the signature catalogue.
LOG_CLASSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("role_denied", re.compile(r"(?:AccessDenied(?:Exception)?|not authorized to perform)[^\n]*?"
                               r"(ecs:(?:UpdateService|DescribeServices))")),
    ("no_ecs_path", re.compile(r"(?:Could not connect to the endpoint URL|Connect timeout on endpoint URL|"
                               r"ConnectTimeoutError)[^\n]*?ecs\.")),
    ("throttled", re.compile(r"ThrottlingException|Rate exceeded|TooManyRequestsException")),
    ("no_redis_path", re.compile(r"redis\.exceptions\.(?:TimeoutError|ConnectionError)|"
                                 r"(?:Timeout connecting to server|Error \d+ connecting to)[^\n]*?(?:6379|redis)")),
    ("timeout", re.compile(r"Task timed out after [\d.]+ seconds")),
    ("errors", re.compile(r"\[ERROR\]|Traceback \(most recent call last\)|^ERROR\b")),
)
REDIS_LOG_SIGNALS = {"logs.redis_timeout", "logs.redis_refused", "logs.redis_dns"}


@dataclass
class Controller:
    """What the drain judgement needs to know about the controller."""

    interval: int = DEFAULT_INTERVAL
    scaled_in: dict[str, datetime] | None = None  # service -> when it was last scaled to 0 (activities)


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    cfg = ctx.config.scaler
    if cfg.kind == "none":
        ctx.skip('not configured: set [scaler] kind = "lambda" (and function) or "application-autoscaling"',
                 unlock="[scaler] kind")
        return
    controller = Controller()
    own: list[Finding] = []
    if cfg.kind == "lambda":
        if not cfg.function:
            ctx.unknown('[scaler] kind = "lambda" but [scaler] function is not set', unlock="[scaler] function")
            return
        own = list(_lambda(ctx, cfg.function, controller))
    else:
        own = list(_autoscaling(ctx, controller))
    yield from own
    failing = sorted({s for f in own if f.severity.rank >= Severity.warning.rank for s in set(f.signals) & FAILING})
    yield from _drain(ctx, controller, failing)


# --- Lambda -------------------------------------------------------------------------------------------------
def _lambda(ctx: CheckContext, function: str, controller: Controller) -> Iterator[Finding]:
    cfg = ctx.config.scaler
    fn = ctx.attempt("controller function", lambda: sf.lambda_function(ctx.facts, function))
    if ctx.unknown_reason and fn is None:
        return
    if fn is None:
        yield ctx.finding("not_found", function, function=function, evidence={"function": function})
        return
    name, arn = str(fn.get("FunctionName", function)), str(fn.get("FunctionArn", function))
    base_ev = {"function": name, "function_arn": arn}
    problems = 0
    state, update = str(fn.get("State") or "Active"), str(fn.get("LastUpdateStatus") or "Successful")
    if state == "Failed" or update == "Failed":
        problems += 1
        yield ctx.finding("not_active", name, function=name, state=state, update=update,
                          reason=fn.get("StateReason") or fn.get("LastUpdateStatusReason") or "",
                          evidence={**base_ev, "State": state, "LastUpdateStatus": update,
                                    "StateReason": fn.get("StateReason"),
                                    "LastUpdateStatusReason": fn.get("LastUpdateStatusReason")})

    found = ctx.attempt("controller trigger", lambda: sf.triggers(ctx.facts, arn, cfg.rule))
    trigger = None
    if found is not None:
        trigger = next((t for t in found if t.state == "ENABLED" and t.targets_function), None)
        if trigger is None:
            problems += 1
            yield _trigger_problem(ctx, name, arn, found, cfg.rule)
    expression = trigger.expression if trigger else ""
    controller.interval = cfg.interval_seconds or sf.interval_seconds(expression) or DEFAULT_INTERVAL

    since, until = sf.window(ctx.facts)
    metrics = ctx.attempt("controller metrics", lambda: sf.lambda_metrics(ctx.facts, name, since, until))
    lines = ctx.attempt("controller logs", lambda: sf.lambda_log_lines(ctx.facts, name, since))
    classified = _classify(lines or [])
    if metrics is not None:
        for f in _metric_findings(ctx, name, metrics, trigger, controller.interval, classified):
            problems += 1
            yield f
    for cls, (count, sample, detail) in classified.items():
        problems += 1
        yield ctx.finding(f"log_{cls}", name, function=name, count=count, sample=sample,
                          actions=", ".join(sorted(detail)) or ", ".join(ROLE_ACTIONS),
                          evidence={**base_ev, "class": cls, "lines": count, "sample": sample,
                                    "log_group": f"/aws/lambda/{name}"})
    for f in _vpc(ctx, name, fn):
        problems += 1
        yield f
    for f in _role(ctx, fn):
        problems += 1
        yield f
    for f in _ranges(ctx, name, fn):
        problems += 1
        yield f
    if problems == 0:
        yield ctx.finding(
            "ok", name, function=name, state=state, trigger=trigger.name if trigger else "its trigger",
            interval=_duration(controller.interval), invocations=(metrics or {}).get("Invocations", 0.0),
            evidence={**base_ev, "State": state, "LastUpdateStatus": update, "metrics_last_hour": metrics,
                      "trigger": trigger.__dict__ if trigger else None, "interval_s": controller.interval,
                      "log_lines_read": len(lines or [])})


def _trigger_problem(ctx: CheckContext, name: str, arn: str, found: list[sf.Trigger], rule: str | None) -> Finding:
    ev = {"function": name, "function_arn": arn, "triggers": [t.__dict__ for t in found], "rule": rule}
    if not found:
        return ctx.finding("no_trigger", name, function=name, function_arn=arn, evidence=ev)
    disabled = next((t for t in found if t.state != "ENABLED"), None)
    if disabled is not None:
        return ctx.finding("trigger_disabled", f"{name}:{disabled.name}", function=name, trigger=disabled.name,
                           trigger_kind="rule" if disabled.kind == "rule" else "schedule", state=disabled.state,
                           evidence=ev, resources=[name, disabled.name])
    return ctx.finding("trigger_not_targeting", f"{name}:{found[0].name}", function=name, function_arn=arn,
                       trigger=found[0].name, evidence=ev, resources=[name, found[0].name])


def _metric_findings(ctx: CheckContext, name: str, metrics: dict[str, float], trigger: sf.Trigger | None,
                     interval: int, classified: dict[str, tuple[int, str, set[str]]]) -> Iterator[Finding]:
    errors, throttles, invocations = (metrics.get(m, 0.0) for m in ("Errors", "Throttles", "Invocations"))
    ev = {"function": name, "metrics_last_hour": metrics}
    if errors > 0:
        small = errors < 3 and errors < 0.1 * max(invocations, 1.0)
        sample = next((s for _, s, _ in classified.values()), "")
        yield ctx.finding("errors", name, severity="warning" if small else None, function=name, errors=errors,
                          invocations=invocations, sample=sample, evidence=ev)
    if throttles > 0:
        yield ctx.finding("throttled", name, function=name, throttles=throttles, evidence=ev)
    if invocations == 0 and trigger is not None and interval < 3600:
        yield ctx.finding("not_invoked", name, function=name, trigger=trigger.name, interval=_duration(interval),
                          evidence={**ev, "trigger": trigger.__dict__})


def _classify(lines: list[str]) -> dict[str, tuple[int, str, set[str]]]:
    """class -> (lines, first line (cut), the ECS actions named when denied)."""
    out: dict[str, tuple[int, str, set[str]]] = {}
    for line in lines:
        cls, named = None, ""
        for name, pattern in LOG_CLASSES:
            m = pattern.search(line)
            if m:
                cls, named = name, (m.group(1) if m.groups() else "")
                break
        if cls in (None, "errors") and any(s.signal in REDIS_LOG_SIGNALS for s in match_line(line)):
            cls = "no_redis_path"
        if cls is None:
            continue
        count, sample, actions = out.get(cls, (0, line.strip()[:300], set()))
        out[cls] = (count + 1, sample, actions | ({named} if named else set()))
    return out


def _vpc(ctx: CheckContext, name: str, fn: dict[str, Any]) -> Iterator[Finding]:
    """In a VPC: its SGs admitted on the Redis SG (sg.ingress's rules) and its subnets' path to the ECS API."""
    vpc = fn.get("VpcConfig") or {}
    subnet_ids, sgs = list(vpc.get("SubnetIds") or []), list(vpc.get("SecurityGroupIds") or [])
    if not subnet_ids:
        return
    subnets = ctx.attempt("controller subnets", functools.partial(sf.subnets, ctx.facts, subnet_ids))
    if subnets is None:
        return
    yield from _redis_ingress(ctx, name, sgs, {sid: s.cidr for sid, s in subnets.items()})
    paths = ctx.attempt("controller path to ECS", lambda: [sf.path_from(ctx.facts, s, "ecs") for s in subnets.values()])
    blocked = [p for p in paths or [] if not p.ok]
    if blocked:
        vpc_id = next(iter(subnets.values())).vpc_id  # moto reports a placeholder VpcConfig.VpcId: use the subnet's
        yield ctx.finding("no_ecs_path", name, function=name, blocked=" ".join(p.subnet for p in blocked),
                          notes="; ".join(sorted({p.note for p in blocked if p.note})), vpc=vpc_id,
                          region=ctx.aws.region_name,
                          evidence={"function": name, "paths": [p.evidence() for p in paths or []]})


def _redis_ingress(ctx: CheckContext, name: str, sgs: list[str], subnets: dict[str, str]) -> Iterator[Finding]:
    facts = ctx.facts
    if not ctx.config.redis.host:
        ctx.attempt("SSM values", facts.ssm_values)
    host = facts.redis_target().host
    if not host:
        return
    store = ctx.attempt("ElastiCache lookup", lambda: store_via_chain(facts, host, lambda h: redis_store(facts, h)))
    if store is None or not store.sgs:
        return
    groups = ctx.attempt("Redis security groups", functools.partial(security_groups, facts, store.sgs))
    if groups is None:
        return
    g = evaluate(ctx, groups, store.port, set(sgs), subnets)
    if g.via_sg or (subnets and set(subnets) <= g.covered):
        return
    source = sgs[0] if sgs else "<function SG>"
    grant = "; ".join(ctx.text("authorize", group=d, port=store.port, source=source) for d in store.sgs)
    old = bool(g.outside and not g.covered)
    yield ctx.finding("no_redis_path", f"{name}:{store.id}", variant="old_ips" if old else None, function=name,
                      function_sgs=", ".join(sgs) or "(none)", redis_sgs=", ".join(store.sgs), port=store.port,
                      rules="; ".join(f"{r['group']} {r['ports']} from {', '.join(r['source_groups'] + r['cidrs'])}"
                                      for r in g.rules) or "none", grant=grant, outside=", ".join(g.outside),
                      evidence={"function": name, "function_security_groups": sgs, "store": store.id,
                                "data_security_groups": store.sgs, "port": store.port, "rules_on_port": g.rules,
                                "outside_cidrs": g.outside}, resources=[name, *store.sgs, *sgs])


def _role(ctx: CheckContext, fn: dict[str, Any]) -> Iterator[Finding]:
    """Advisory, as exec.ready: iam:SimulatePrincipalPolicy ignores SCPs and condition keys."""
    role = str(fn.get("Role") or "")
    if not role:
        return
    services = ctx.attempt("ECS services", ctx.facts.services) or {}
    arns = [str(s["serviceArn"]) for s in services.values() if s and s.get("serviceArn")]
    try:
        resp = ctx.aws.client("iam").simulate_principal_policy(PolicySourceArn=role, ActionNames=list(ROLE_ACTIONS),
                                                               ResourceArns=arns or ["*"])
    except Exception as e:
        why = "access denied" if denied_action(e) else f"{type(e).__name__}: {e}"
        ctx.unknown(f"controller role {role} not simulated: {why}", unlock="iam:SimulatePrincipalPolicy")
        return
    denied: dict[str, list[str]] = {}
    for r in resp.get("EvaluationResults", []):
        action = r.get("EvalActionName", "")
        refused = [x.get("EvalResourceName", "*") for x in r.get("ResourceSpecificResults", []) or []
                   if x.get("EvalResourceDecision") != "allowed"]
        if r.get("EvalDecision") != "allowed" or refused:
            denied[action] = refused or arns or ["*"]
    if denied:
        short = role.rsplit("/", 1)[-1]
        arns_denied = sorted({a for v in denied.values() for a in v})
        yield ctx.finding("role_denied", short, role=short, denied=", ".join(sorted(denied)),
                          arns=", ".join(arns_denied), resources=[role, *arns_denied],
                          evidence={"role": role, "denied": denied, "advisory": True,
                                    "note": "iam:SimulatePrincipalPolicy does not evaluate SCPs or condition keys"})


_RANGE = re.compile(r"^\s*\[?\s*(\d+)\s*(?:\.\.|-|,|:)\s*(\d+)\s*\]?\s*$")


def _ranges(ctx: CheckContext, name: str, fn: dict[str, Any]) -> Iterator[Finding]:
    env = (fn.get("Environment") or {}).get("Variables") or {}
    for queue, qcfg in ctx.config.queues.items():
        variable = ctx.config.scaler.range_env.replace("{QUEUE}", queue.upper()).replace("{queue}", queue)
        value = env.get(variable)
        if value is None:
            continue
        m = _RANGE.match(str(value))
        lo, hi = qcfg.scale
        if m and (int(m.group(1)), int(m.group(2))) == (lo, hi):
            continue
        yield ctx.finding("range_mismatch", f"{name}:{queue}", function=name, queue=queue, variable=variable,
                          value=str(value), lo=lo, hi=hi,
                          evidence={"function": name, "queue": queue, "variable": variable, "value": str(value),
                                    "scale": [lo, hi]})


# --- Application Auto Scaling ------------------------------------------------------------------------------------
def _autoscaling(ctx: CheckContext, controller: Controller) -> Iterator[Finding]:
    cfg = ctx.config
    controller.interval = cfg.scaler.interval_seconds or DEFAULT_INTERVAL
    ids = {f"service/{cfg.ecs.cluster}/{q.service}": (name, q) for name, q in cfg.queues.items()}
    targets = ctx.attempt("scalable targets", lambda: sf.scalable_targets(ctx.facts, list(ids)))
    if targets is None:
        return
    since, _ = sf.window(ctx.facts)
    controller.scaled_in = {}
    problems = 0
    for rid, (queue, qcfg) in ids.items():
        service, (lo, hi) = qcfg.service, qcfg.scale
        ev: dict[str, Any] = {"service": service, "queue": queue, "resource_id": rid}
        t = targets.get(rid)
        if t is None:
            problems += 1
            yield ctx.finding("aas_target_missing", service, service=service, resource_id=rid, lo=lo, hi=hi,
                              evidence=ev)
            continue
        ev["target"] = {k: t.get(k) for k in ("MinCapacity", "MaxCapacity", "SuspendedState")}
        if (t.get("MinCapacity"), t.get("MaxCapacity")) != (lo, hi):
            problems += 1
            yield ctx.finding("range_mismatch", f"{service}:target", variant="autoscaling", service=service,
                              queue=queue, min=t.get("MinCapacity"), max=t.get("MaxCapacity"), lo=lo, hi=hi,
                              resource_id=rid, evidence={**ev, "scale": [lo, hi]})
        suspended = [k for k, v in (t.get("SuspendedState") or {}).items() if v]
        if suspended:
            problems += 1
            yield ctx.finding("aas_suspended", service, service=service, suspended=", ".join(suspended),
                              resource_id=rid, evidence=ev)
        policies = ctx.attempt(f"scaling policies of {service}", functools.partial(sf.scaling_policies, ctx.facts, rid))
        if policies is not None and not policies:
            problems += 1
            yield ctx.finding("aas_no_policy", service, service=service, resource_id=rid, evidence=ev)
        activities = _activities(ctx, rid, since)
        failed = [a for a in activities if a.get("StatusCode") == "Failed"]
        if failed:
            problems += 1
            a = failed[0]
            yield ctx.finding("aas_activity_failed", service, service=service, resource_id=rid,
                              at=to_datetime(a.get("StartTime")).isoformat(),
                              message=str(a.get("StatusMessage") or a.get("Description") or "")[:300],
                              evidence={**ev, "failed_activities": len(failed),
                                        "activity": {k: str(a.get(k)) for k in ("Description", "Cause", "StatusCode",
                                                                                 "StatusMessage", "StartTime")}})
        to_zero = next((a for a in activities if a.get("StatusCode") == "Successful"
                        and re.search(r"\bto 0\b", str(a.get("Description", "")))), None)
        if to_zero is not None:
            controller.scaled_in[service] = to_datetime(to_zero.get("EndTime") or to_zero.get("StartTime"))
    if problems == 0:
        ranges = ", ".join(f"{q} {lo}..{hi}" for q, (lo, hi) in ((n, c.scale) for n, c in cfg.queues.items()))
        yield ctx.finding("ok", "application-autoscaling", variant="autoscaling", ranges=ranges,
                          evidence={"targets": targets})


def _activities(ctx: CheckContext, rid: str, since: datetime) -> list[dict[str, Any]]:
    try:
        return sf.scaling_activities(ctx.facts, rid, since)
    except Exception as e:
        action = denied_action(e)
        ctx.unknown(f"scaling activities of {rid} not read: {action or type(e).__name__}",
                    unlock=action or "application-autoscaling:DescribeScalingActivities")
        return []


# --- the drain rule and the wake-up, after the fact -----------------------------------------------------------
def _drain(ctx: CheckContext, controller: Controller, failing: list[str]) -> Iterator[Finding]:
    cfg = ctx.config
    described = ctx.attempt("ECS services", ctx.facts.services) or {}
    services = {name: svc for name, svc in described.items() if svc}
    idle = {q: c.service for q, c in cfg.queues.items()
            if c.service in services and int(services[c.service].get("desiredCount") or 0) == 0}
    if not idle:
        return
    depth = _depths(ctx)
    if depth is None:
        state = ctx.result_of("queue.state")
        ctx.unknown(f"drain rule not checked for {', '.join(idle.values())}: no queue readings from queue.state "
                    f"({state.status.value if state else 'not run'})", unlock="queue.state (Redis readable)")
        return
    for queue, service in idle.items():
        d = depth.get(queue)
        if d is None:
            continue
        running = int(services[service].get("runningCount") or 0)
        yield from _drained(ctx, controller, queue, service, d, running)
        yield from _idle(ctx, controller, queue, service, d, failing)


def _depths(ctx: CheckContext) -> dict[str, dict[str, Any]] | None:
    """queue -> the evidence of queue.state's ``depth`` finding; None when queue.state read no queue."""
    result = ctx.result_of("queue.state")
    if result is None:
        return None
    out = {f.uid.split(":", 2)[2]: f.evidence for f in result.findings if f.uid.startswith("queue.state:depth:")}
    return out or None


def _scaled_in_at(ctx: CheckContext, controller: Controller, service: str) -> datetime | None:
    """When the service was last drained: the controller's activity, else its newest task stopped by the
    scheduler (scale-in) within the window."""
    if controller.scaled_in and service in controller.scaled_in:
        return controller.scaled_in[service]
    stopped = ctx.attempt("stopped tasks", functools.partial(ctx.facts.tasks, service, "STOPPED")) or []
    times = [to_datetime(t.get("stoppedAt")) for t in stopped if t.get("stopCode") == "ServiceSchedulerInitiated"]
    return max(times) if times else None


def _drained(ctx: CheckContext, controller: Controller, queue: str, service: str, d: dict[str, Any],
             running: int) -> Iterator[Finding]:
    if running:
        return
    at = _scaled_in_at(ctx, controller, service)
    reserved, ready, age = int(d.get("reserved") or 0), int(d.get("ready") or 0), d.get("oldest_ready_age_s")
    reasons: list[str] = []
    held: list[str] = []
    if reserved:
        held.append(f"{reserved} reserved")
        reasons.append(f"{reserved} job(s) reserved by workers that no longer run")
    if at is not None and ready and age is not None and float(age) > (ctx.facts.now - at).total_seconds():
        held.append(f"{ready} ready")
        reasons.append(f"the oldest ready job ({float(age):g}s) was queued before the scale-in at {at.isoformat()}")
    if not held:
        return
    yield ctx.finding("drained_too_early", service, service=service, queue=queue, held=" and ".join(held),
                      reasons="; ".join(reasons), cluster=ctx.config.ecs.cluster,
                      evidence={"service": service, "queue": queue, "scaled_in_at": at.isoformat() if at else None,
                                "ready": ready, "reserved": reserved, "delayed": d.get("delayed"),
                                "oldest_ready_age_s": age})


def _idle(ctx: CheckContext, controller: Controller, queue: str, service: str, d: dict[str, Any],
          failing: list[str]) -> Iterator[Finding]:
    """A ready backlog older than one controller run at desired 0 (read as ``failing`` when the controller's
    own findings show it failing: ``failing`` holds their signals)."""
    ready, age = int(d.get("ready") or 0), d.get("oldest_ready_age_s")
    expired, overdue = int(d.get("expired_reserved") or 0), int(d.get("overdue_delayed") or 0)
    if not ready:
        return
    reasons = []
    if age is not None and float(age) > controller.interval:
        reasons.append(f"the oldest ready job waits {float(age):g}s, longer than one run ({controller.interval}s)")
    if expired:
        reasons.append(f"{expired} reservation(s) expired")
    if overdue:
        reasons.append(f"{overdue} delayed job(s) overdue")
    if not reasons:
        return
    yield ctx.finding("idle_backlog", service, variant="failing" if failing else None,
                      signals=["scaler.not_waking"] if failing else [], service=service, queue=queue, ready=ready,
                      age=f"oldest {_duration(int(float(age)))}" if age is not None else "age unknown",
                      interval=_duration(controller.interval), reasons="; ".join(reasons),
                      failures=", ".join(failing), cluster=ctx.config.ecs.cluster,
                      evidence={"service": service, "queue": queue, "ready": ready, "oldest_ready_age_s": age,
                                "expired_reserved": expired, "overdue_delayed": overdue,
                                "interval_s": controller.interval, "controller_failing": failing})


def _duration(seconds: int) -> str:
    """``60`` -> "1 min", ``1202`` -> "20 min", ``7200`` -> "2 h", ``90`` -> "90 s"."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds >= 60 and (seconds % 60 == 0 or seconds >= 600):
        return f"{seconds // 60} min"
    return f"{seconds} s"
