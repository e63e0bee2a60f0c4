"""ecs.service — each worker service is steady: counts, deployments, circuit breaker, events, restarts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from doctor.checkapi import CheckContext, CheckMeta, check
from doctor.facts import _ts
from doctor.model import Finding
from doctor.signatures import classify_stop

META = CheckMeta(
    id="ecs.service",
    title="Worker services are steady, without restart storms",
    order=9,
    proves="Each configured ECS service exists, runs its desired count with nothing pending, has one completed "
    "deployment (no failed rollout / tripped circuit breaker), no recent 'unable to start' events, fewer stopped "
    "tasks in the window than the restart-storm threshold, and a desired count inside the queue's scale range.",
    why="A worker that reaches RUNNING and then exits on a DB/Redis error trips neither ECS's restart throttling "
    "nor the circuit breaker: only counting stopped tasks shows the storm. Zero running tasks means nobody "
    "consumes the queue whatever its depth.",
    remediation="Fix the startup cause (see ecs.startup) before scaling; roll back a failed deployment with "
    "`aws ecs update-service --task-definition <previous>`; keep desired counts inside [queues.X] scale.",
    iam_actions=("ecs:DescribeServices", "ecs:ListTasks", "ecs:DescribeTasks"),
    needs=("aws",),
)

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
    since = ctx.facts.now - timedelta(minutes=cfg.run.window_minutes)
    threshold = cfg.run.restart_storm

    for queue, qcfg in cfg.queues.items():
        service = qcfg.service
        svc = services.get(service)
        if svc is None:
            yield ctx.legacy_finding("service_missing", service, "error",
                              f"Service {service} (queue {queue}) does not exist in {cluster}",
                              detail="Nothing consumes this queue on ECS.",
                              evidence={"service": service, "queue": queue, "cluster": cluster},
                              signals=["ecs.service_missing", "ecs.zero_running"],
                              remediation=f"Create the service or fix [queues.{queue}] service in the config "
                              f"(aws ecs list-services --cluster {cluster}).")
            continue
        yield from _one(ctx, queue, service, svc, since, threshold)


def _one(ctx: CheckContext, queue: str, service: str, svc: dict[str, Any], since: Any,
         threshold: int) -> Iterator[Finding]:
    cluster = ctx.config.ecs.cluster
    scale = ctx.config.queues[queue].scale
    desired, running, pending = (int(svc.get(k) or 0) for k in ("desiredCount", "runningCount", "pendingCount"))
    counts = {"service": service, "queue": queue, "desired": desired, "running": running, "pending": pending}
    deployments = svc.get("deployments", []) or []
    dep_summary = [{"id": d.get("id"), "status": d.get("status"), "rolloutState": d.get("rolloutState"),
                    "taskDefinition": str(d.get("taskDefinition", "")).rsplit("/", 1)[-1],
                    "desired": d.get("desiredCount"), "running": d.get("runningCount"),
                    "failedTasks": d.get("failedTasks", 0)} for d in deployments]
    events = [e for e in svc.get("events", []) or [] if _ts(e.get("createdAt")) >= since]
    events.sort(key=lambda e: _ts(e.get("createdAt")), reverse=True)
    recent = [{"at": _ts(e.get("createdAt")).isoformat(), "message": e.get("message", "")} for e in events[:MAX_EVENTS]]
    redeploy = f"aws ecs update-service --cluster {cluster} --service {service}"
    problems = 0

    if desired > 0 and running == 0:
        problems += 1
        yield ctx.legacy_finding("zero_running", service, "critical",
                          f"{service}: 0 of {desired} task(s) running", detail="Nothing consumes the "
                          f"'{queue}' queue.", evidence={**counts, "events": recent},
                          signals=["ecs.zero_running"],
                          remediation="Find why tasks stop (ecs.startup) before raising the desired count.")
    elif running < desired or pending > 0 or running > desired:
        problems += 1
        yield ctx.legacy_finding("not_steady", service, "warning",
                          f"{service}: {running} running / {pending} pending of {desired} desired",
                          evidence={**counts, "events": recent}, signals=["ecs.not_steady"],
                          remediation=f"Watch it settle (aws ecs describe-services --cluster {cluster} --services "
                          f"{service}); if it does not, see ecs.startup.")

    failed = [d for d in deployments if d.get("rolloutState") == "FAILED"]
    if failed:
        problems += 1
        d = failed[0]
        yield ctx.legacy_finding("circuit_breaker_tripped", service, "error",
                          f"{service}: deployment {d.get('id')} failed ({d.get('rolloutStateReason') or 'rollout FAILED'})",
                          detail="The deployment circuit breaker stopped the rollout (and rolled back when enabled).",
                          evidence={**counts, "deployments": dep_summary,
                                    "rolloutStateReason": d.get("rolloutStateReason")},
                          signals=["ecs.circuit_breaker_tripped"],
                          remediation=f"Fix the new task definition's startup (ecs.startup), then {redeploy} "
                          "--task-definition <fixed revision>.")
    elif len(deployments) > 1 or any(d.get("rolloutState") == "IN_PROGRESS" for d in deployments):
        problems += 1
        yield ctx.legacy_finding("deployment_in_progress", service, "warning",
                          f"{service}: deployment in progress ({len(deployments)} deployment(s))",
                          evidence={**counts, "deployments": dep_summary}, signals=["ecs.deployment_in_progress"],
                          remediation="Wait for the rollout to complete before judging the workers.")

    for needle, kind in _BAD_EVENTS:
        hit = next((e for e in events if needle in str(e.get("message", ""))), None)
        if hit is None:
            continue
        problems += 1
        signals = ["ecs.not_steady"] + (["ecs.restart_storm"] if kind == "start_throttled" else [])
        yield ctx.legacy_finding(kind, service, "error",
                          f"{service}: {str(hit.get('message'))[:200]}",
                          evidence={**counts, "event_at": _ts(hit.get("createdAt")).isoformat(), "events": recent},
                          signals=signals,
                          remediation="See ecs.startup for the stop reason of the failing tasks.")
        break

    stopped = ctx.facts.tasks(service, "STOPPED")
    td = ctx.facts.service_task_definition(service)
    essential = {c["name"] for c in (td or {}).get("containerDefinitions", []) if c.get("essential", True)}
    counted = [t for t in stopped if classify_stop(t, essential).kind != "expected"]
    if len(counted) >= threshold:
        problems += 1
        yield ctx.legacy_finding("restart_storm", service, "error",
                          f"{service}: {len(counted)} task(s) stopped in the last "
                          f"{ctx.config.run.window_minutes} min (threshold {threshold})",
                          detail="Workers keep dying and being replaced. ECS does not throttle tasks that reached "
                          "RUNNING, so this can go on indefinitely.",
                          evidence={**counts, "stopped_in_window": len(stopped), "counted": len(counted),
                                    "threshold": threshold, "window_minutes": ctx.config.run.window_minutes},
                          signals=["ecs.restart_storm"],
                          remediation="Do not scale out: fix the cause in ecs.startup first.")

    lo, hi = scale
    if not lo <= desired <= hi:
        problems += 1
        yield ctx.legacy_finding("scale_out_of_range", service, "warning",
                          f"{service}: desired count {desired} outside the configured range [{lo}, {hi}]",
                          evidence={**counts, "scale": [lo, hi]}, signals=["ecs.scale_out_of_range"],
                          remediation=f"{redeploy} --desired-count {min(max(desired, lo), hi)} (or change "
                          f"[queues.{queue}] scale if the range is wrong).")

    if problems == 0:
        state = "scaled to zero" if desired == 0 else "steady"
        yield ctx.legacy_finding("steady", service, "info",
                          f"{service}: {state} ({running}/{desired} running)",
                          evidence={**counts, "deployments": dep_summary, "stopped_in_window": len(stopped)},
                          signals=["ecs.steady"], remediation="")
