"""ecs.service — each worker service is steady: counts, deployments, circuit breaker, events, restarts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from doctor.checkapi import CheckContext, check, load_meta
from doctor.model import Finding
from doctor.redact import clip
from doctor.signatures import classify_stop
from doctor.util import to_datetime

META = load_meta(__file__)

MAX_EVENTS = 5
_BAD_EVENTS = (
    ("is unable to consistently start tasks successfully", "start_throttled"),
    ("was unable to place a task", "unable_to_place"),
    ("deployment failed", "deployment_failed"),
    ("circuit breaker", "deployment_failed"),
)


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    cfg = ctx.config
    cluster = cfg.ecs.cluster
    services = ctx.facts.services()
    threshold = cfg.run.restart_storm

    for queue, qcfg in cfg.queues.items():
        service = qcfg.service
        svc = services.get(service)
        if svc is None:
            yield ctx.finding("service_missing", service,
                              evidence={"service": service, "queue": queue, "cluster": cluster},
                              signals=["ecs.zero_running"], service=service, queue=queue, cluster=cluster)
            continue
        yield from _one(ctx, queue, service, svc, threshold)


def _one(ctx: CheckContext, queue: str, service: str, svc: dict[str, Any], threshold: int) -> Iterator[Finding]:
    cluster = ctx.config.ecs.cluster
    # events and stopped tasks are judged since the current deployment (within the window): what happened
    # before it belongs to a deployment already replaced
    since = ctx.facts.judged_since(service)
    scale = ctx.config.queues[queue].scale
    desired, running, pending = (int(svc.get(k) or 0) for k in ("desiredCount", "runningCount", "pendingCount"))
    counts = {"service": service, "queue": queue, "desired": desired, "running": running, "pending": pending}
    deployments = svc.get("deployments", []) or []
    dep_summary = [{"id": d.get("id"), "status": d.get("status"), "rolloutState": d.get("rolloutState"),
                    "taskDefinition": str(d.get("taskDefinition", "")).rsplit("/", 1)[-1],
                    "desired": d.get("desiredCount"), "running": d.get("runningCount"),
                    "failedTasks": d.get("failedTasks", 0)} for d in deployments]
    events = [e for e in svc.get("events", []) or [] if to_datetime(e.get("createdAt")) >= since]
    events.sort(key=lambda e: to_datetime(e.get("createdAt")), reverse=True)
    recent = [{"at": to_datetime(e.get("createdAt")).isoformat(), "message": e.get("message", "")}
              for e in events[:MAX_EVENTS]]
    problems = 0

    if desired > 0 and running == 0:
        problems += 1
        yield ctx.finding("zero_running", service, evidence={**counts, "events": recent}, service=service,
                          desired=desired, queue=queue)
    elif running < desired or pending > 0 or running > desired:
        problems += 1
        yield ctx.finding("not_steady", service, evidence={**counts, "events": recent}, service=service,
                          running=running, pending=pending, desired=desired, cluster=cluster)

    failed = [d for d in deployments if d.get("rolloutState") == "FAILED"]
    if failed:
        problems += 1
        d = failed[0]
        yield ctx.finding("circuit_breaker_tripped", service,
                          evidence={**counts, "deployments": dep_summary,
                                    "rolloutStateReason": d.get("rolloutStateReason")},
                          service=service, deployment=d.get("id"),
                          reason=d.get("rolloutStateReason") or "rollout FAILED", cluster=cluster)
    elif len(deployments) > 1 or any(d.get("rolloutState") == "IN_PROGRESS" for d in deployments):
        problems += 1
        yield ctx.finding("deployment_in_progress", service, evidence={**counts, "deployments": dep_summary},
                          service=service, deployments=len(deployments))

    for needle, kind in _BAD_EVENTS:
        hit = next((e for e in events if needle in str(e.get("message", ""))), None)
        if hit is None:
            continue
        problems += 1
        yield ctx.finding(kind, service,
                          evidence={**counts, "event_at": to_datetime(hit.get("createdAt")).isoformat(),
                                    "events": recent},
                          signals=META.kinds[kind].signals,  # (start_throttled also means a restart storm)
                          service=service, message=clip(str(hit.get("message")), 200))
        break

    stopped, earlier = ctx.facts.stopped_tasks(service)
    td = ctx.facts.service_task_definition(service)
    essential = {c["name"] for c in (td or {}).get("containerDefinitions", []) if c.get("essential", True)}
    counted = [t for t in stopped if classify_stop(t, essential).kind != "expected"]
    if len(counted) >= threshold:
        problems += 1
        yield ctx.finding("restart_storm", service,
                          evidence={**counts, "stopped_in_window": len(stopped), "counted": len(counted),
                                    "threshold": threshold, "window_minutes": ctx.config.run.window_minutes,
                                    "judged_since": since.isoformat()},
                          service=service, count=len(counted), window=ctx.config.run.window_minutes,
                          threshold=threshold)

    lo, hi = scale
    if not lo <= desired <= hi:
        problems += 1
        yield ctx.finding("scale_out_of_range", service, evidence={**counts, "scale": [lo, hi]}, service=service,
                          desired=desired, lo=lo, hi=hi, target=min(max(desired, lo), hi), cluster=cluster,
                          queue=queue)

    if problems == 0:
        yield ctx.finding("steady", service,
                          evidence={**counts, "deployments": dep_summary, "stopped_in_window": len(stopped),
                                    "stopped_before_current_deployment": len(earlier)},
                          variant="scaled_to_zero" if desired == 0 else None, service=service, running=running,
                          desired=desired)
