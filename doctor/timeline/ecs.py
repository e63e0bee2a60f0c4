"""ECS on the axis: deployments (changes), service events that report a failure and task stops that are
problems (symptoms, one per service and stop class, at the first stop), and when the running tasks
started (context). Read from the run's shared facts: no call the checks did not already make."""

from __future__ import annotations

import re
from typing import Any

from doctor.facts import Facts
from doctor.model import TimelineEvent, TimelineKind
from doctor.signatures import classify_stop
from doctor.timeline.context import ServiceContext
from doctor.timeline.sources import SourceRead, Window, iso, when
from doctor.timeline.tokens import arn_name, family, token

PROBLEM_EVENT = re.compile(r"unable to|failed|is unhealthy|did not|error", re.I)


def read(out: SourceRead, facts: Facts, contexts: dict[str, ServiceContext], window: Window) -> None:
    for name, svc in facts.services().items():
        if svc is None:
            continue
        out.events += deployments(name, svc, window)
        out.events += service_events(name, svc, window)
        ctx = contexts.get(name) or ServiceContext(name)
        out.events += task_stops(name, facts.tasks(name, "STOPPED"), ctx.essential, window)
        out.events += task_starts(name, facts.tasks(name, "RUNNING"), window)


def deployments(service: str, svc: dict[str, Any], window: Window) -> list[TimelineEvent]:
    out = []
    for d in svc.get("deployments") or []:
        at = when(d.get("createdAt"))
        if not window.contains(at):
            continue
        assert at is not None
        revision = arn_name(str(d.get("taskDefinition", "")))
        state = ", ".join(str(x) for x in (d.get("status"), d.get("rolloutState")) if x)
        verb = f"deployment of {revision} started" + (f" ({state})" if state else "")
        tokens = [token("service", service)] + ([token("taskdef", family(revision))] if revision else [])
        out.append(TimelineEvent(
            id=f"ecs-deployment:{service}:{d.get('id', at.isoformat())}", at=iso(at), kind=TimelineKind.change,
            source="ecs-deployment", title=f"ECS service {service}: {verb}", resources=tokens, services=[service],
            detail={"deployment": d.get("id"), "task_definition": revision, "status": d.get("status"),
                    "rollout_state": d.get("rolloutState"), "phrase": {"subject": tokens[0], "verb": verb}}))
    return out


def service_events(service: str, svc: dict[str, Any], window: Window) -> list[TimelineEvent]:
    """The service's own event messages that report a failure (steady-state chatter is left out)."""
    out = []
    for ev in svc.get("events") or []:
        at = when(ev.get("createdAt"))
        message = str(ev.get("message", ""))
        if not window.contains(at) or not PROBLEM_EVENT.search(message):
            continue
        assert at is not None
        out.append(TimelineEvent(
            id=f"ecs-event:{service}:{ev.get('id', at.isoformat())}", at=iso(at), kind=TimelineKind.symptom,
            source="ecs-event", title=message, resources=[token("service", service)], services=[service],
            detail={"phrase": {"symptom": f"ECS reported '{message[:80]}'"}}))
    return out


def task_stops(service: str, stopped: list[dict[str, Any]], essential: set[str],
               window: Window) -> list[TimelineEvent]:
    """Problem stops: one symptom per stop class at its first stop; benign stops: one context event."""
    groups: dict[str, tuple[Any, list[tuple[Any, dict[str, Any]]]]] = {}
    for t in stopped:
        at = when(t.get("stoppedAt") or t.get("createdAt"))
        if not window.contains(at):
            continue
        cls = classify_stop(t, essential or None)
        groups.setdefault(cls.kind, (cls, []))[1].append((at, t))
    out = []
    for kind, (cls, stops) in sorted(groups.items()):
        stops.sort(key=lambda s: s[0])
        first, last = stops[0][0], stops[-1][0]
        n = len(stops)
        detail: dict[str, Any] = {"stop_class": kind, "stops": n, "last": iso(last),
                                  "first_task": str(stops[0][1].get("taskArn", "")).rsplit("/", 1)[-1]}
        if cls.problem:
            what = f"{n} task stop{'s' if n != 1 else ''}: {cls.title}"
            detail["phrase"] = {"symptom": f"the first task stop on {service} ({cls.title})"}
            out.append(TimelineEvent(
                id=f"ecs-task:{service}:{kind}", at=iso(first), kind=TimelineKind.symptom, source="ecs-task",
                title=f"{service}: first of {what}", resources=[token("service", service)], services=[service],
                signals=list(cls.signals), detail=detail))
        else:
            out.append(TimelineEvent(
                id=f"ecs-task:{service}:{kind}", at=iso(first), kind=TimelineKind.info, source="ecs-task",
                title=f"{service}: {n} task{'s' if n != 1 else ''} stopped ({cls.title})",
                resources=[token("service", service)], services=[service], detail=detail))
    return out


def task_starts(service: str, running: list[dict[str, Any]], window: Window) -> list[TimelineEvent]:
    starts = sorted(at for t in running if window.contains(at := when(t.get("startedAt"))) and at is not None)
    if not starts:
        return []
    n = len(running)
    return [TimelineEvent(
        id=f"ecs-task:{service}:running", at=iso(starts[0]), kind=TimelineKind.info, source="ecs-task",
        title=f"{service}: the oldest of {n} running task{'s' if n != 1 else ''} started",
        resources=[token("service", service)], services=[service], detail={"running": n})]
