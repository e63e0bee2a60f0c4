"""What reach.redis and reach.aurora share: probe every service's tasks and the doctor host at once,
within the check's deadline, and turn each vantage's outcome into a finding of the check's declared
kind of the same name (``ok``, ``timeout``, ``auth_failed``, ...; each check's TOML holds the title,
signal and fix of each). The kinds both checks report alike (``exec_unavailable``,
``plugin_missing``) are declared once in ``_reach.toml`` beside this module.

A service may have several probed tasks (ecs-exec probes up to ``[exec] max_tasks_per_service``): its
tasks are grouped by outcome, one finding per outcome, so one task in a bad subnet or on an old
revision is a finding of its own that names the task ("1 of 3 tasks: task 1a2b3c4d (rev 41, ...)").

Not a check (the registry skips modules starting with ``_``): check code, so it sits above
:mod:`doctor.checkapi` and :mod:`doctor.probe`, which know nothing of findings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from doctor.aws import denied_action
from doctor.net.hostprobe import Outcome
from doctor.probe.result import ProbeResult
from doctor.probe.runner import probe_all_tasks

if TYPE_CHECKING:
    from doctor.checkapi import CheckContext
    from doctor.model import Finding

MARGIN = 2.0  # seconds kept for building findings inside the check's deadline
NETWORK_OUTCOMES = ("timeout", "unreachable", "refused", "dns")
CONNECTED_OUTCOMES = ("ok", "reader", "readonly", "auth_failed")  # the network path works
TaskOutcome = tuple[ProbeResult, Outcome]


def budget(ctx: CheckContext) -> float:
    return max(1.0, (ctx.meta.timeout or ctx.config.run.check_timeout) - MARGIN)


def host_probe_kwargs(ctx: CheckContext) -> dict[str, Any]:
    """The host probe's timeouts (``[run] connect_timeout`` / ``read_timeout``, within the check's budget) and
    the run's dead-endpoint memo: what ``redis_check`` / ``mysql_check`` take besides the target."""
    connect, read = ctx.config.host_timeouts()
    room = budget(ctx)
    return {"timeout": min(connect, room / 2), "read_timeout": min(read, room / 2),
            "dead": ctx.facts.dead_endpoints}


def gather(ctx: CheckContext, host_fn: Callable[[], Outcome]) -> tuple[Outcome | None, dict[str, list[ProbeResult]]]:
    """Run the host probe and every service's task probes concurrently, all inside the deadline."""
    deadline = budget(ctx)
    box: dict[str, Any] = {}

    def host() -> None:
        try:
            box["host"] = host_fn()
        except Exception as e:  # a crash of one vantage is reported, not raised over the others
            box["host_error"] = e

    t = threading.Thread(target=host, name=f"{ctx.meta.id}-host", daemon=True)
    t.start()
    services = [q.service for q in ctx.config.queues.values()]
    if ctx.config.exec.transport == "off" and ctx.config.exec.fallback == "off":
        tasks = {s: [ProbeResult(service=s, transport="off", reason="exec transport is off")] for s in services}
    else:
        tasks = probe_all_tasks(ctx.facts, services, deadline)
    t.join(deadline)
    out = box.get("host")
    if out is None:
        what = "redis" if "redis" in ctx.meta.id else "mysql"
        err = box.get("host_error")
        out = Outcome(what, "host", None, 0, "error" if err else "timeout",
                      detail=f"{type(err).__name__}: {err}" if err else f"host probe did not finish within {deadline:g}s")
    return out, tasks


def transport_findings(ctx: CheckContext, tasks: dict[str, list[ProbeResult]]) -> Iterator[Finding]:
    """Findings for services with tasks that could not be probed (and the plugin-missing hint, once). A
    service none of whose tasks was probed leaves the check unknown; one task of several is a warning."""
    plugin = None
    for svc, results in tasks.items():
        for p in (p for r in results for p in r.problems):
            if p.kind == "plugin_missing":
                plugin = p
        failed = [r for r in results if not r.ok]
        if not failed:
            continue
        r = failed[0]
        if r.error is not None and len(failed) == len(results):
            action = denied_action(r.error)
            if action:
                ctx.unknown(f"task:{svc} not probed: access denied ({action})", unlock=action)
                continue
        problems = [p for f in failed for p in f.problems]
        signals = list(dict.fromkeys(s for p in problems for s in p.signals))
        unlock = next((p.unlock for p in problems if p.unlock), None)
        off = r.transport == "off" and all(p.kind == "exec_off" for p in problems)
        several = len(results) > 1
        reason = "; ".join(f"{f.label}: {f.reason}" if several else str(f.reason) for f in failed)
        if len(failed) == len(results):
            ctx.unknown(f"task:{svc} not probed ({reason})", unlock=unlock or "--exec ecs-exec|probe-task|local")
        else:
            reason = f"{len(failed)} of {len(results)} tasks not probed: {reason}"
        # the last transport's own advice (enable ECS Exec, install the plugin, ...), else the kind's fix
        advice = next((p.remediation for p in reversed(problems) if p.remediation), "")
        yield ctx.finding(
            "exec_unavailable", f"task:{svc}", variant="off" if off else None, signals=signals,
            evidence={"vantage": f"task:{svc}", "transport": r.transport, "reason": reason,
                      "tried": list(dict.fromkeys(p.kind for p in problems)), "task": r.task,
                      "tasks": [task_facts(f) | {"reason": f.reason} for f in failed] if several else None},
            resources=[svc], service=svc, reason=reason,
            advice=advice or ctx.meta.kinds["exec_unavailable"].fix)
    if plugin is not None:
        yield ctx.finding("plugin_missing", "session-manager-plugin", reason=plugin.reason,
                          evidence={"transport": "ecs-exec", "fallback": ctx.config.exec.fallback})


def outcome_finding(ctx: CheckContext, o: Outcome, any_task_connected: bool) -> Finding:
    """One finding for the host vantage, of the kind named after its outcome. A network failure while a
    task connects is the kind's variant ``host_outside_vpc`` (a warning: the doctor host is usually
    outside the VPC); auth and reader outcomes stay errors from any vantage."""
    outside = o.outcome in NETWORK_OUTCOMES and o.vantage == "host" and any_task_connected
    return ctx.finding(o.outcome, o.vantage, variant="host_outside_vpc" if outside else None,
                       evidence=o.evidence(), resources=[o.vantage] + ([f"{o.host}:{o.port}"] if o.host else []),
                       vantage=o.vantage, detail=o.detail, detail_prefix=f"{o.detail}; " if o.detail else "")


def task_facts(r: ProbeResult) -> dict[str, Any]:
    """Which task a per-task reading is from: id, revision (and the service's), subnet, AZ."""
    return {"task": r.task_id, "revision": r.revision, "service_revision": r.service_revision,
            "subnet": r.subnet, "az": r.az}


def task_findings(ctx: CheckContext, svc: str, probed: list[TaskOutcome], total: int) -> Iterator[Finding]:
    """One finding per outcome among ``svc``'s probed tasks (``total`` tasks tried). When the tasks
    disagree, each finding says which tasks it is about: the partial failure on-call needs to see."""
    groups: dict[str, list[TaskOutcome]] = {}
    for r, o in probed:
        groups.setdefault(o.outcome, []).append((r, o))
    for outcome, group in groups.items():
        r, o = group[0]
        partial = len(group) < total
        vantage = f"task:{svc}" + (f" ({len(group)} of {total} tasks)" if partial else "")
        if partial:
            shown = "; ".join(f"{t.label}" + (f": {x.detail}" if x.detail else "") for t, x in group[:3])
            detail = shown + (f"; and {len(group) - 3} more" if len(group) > 3 else "")
        else:
            detail = o.detail
        evidence = o.evidence()
        if total > 1:
            evidence.update(tasks=[task_facts(t) | {"outcome": x.outcome, "detail": x.detail or None}
                                   for t, x in group],
                            tasks_with_outcome=len(group), tasks_probed=total, running_tasks=r.running_tasks)
        yield ctx.finding(outcome, f"task:{svc}", evidence=evidence,
                          resources=[f"task:{svc}"] + ([f"{o.host}:{o.port}"] if o.host else []),
                          vantage=vantage, detail=detail, detail_prefix=f"{detail}; " if detail else "")


def task_outcome(r: ProbeResult, line: dict[str, Any] | None, target: str) -> Outcome:
    """The probe's line for ``target`` (redis | mysql) as an Outcome of vantage task:<service>."""
    line = line or {}
    o = Outcome(target, r.vantage, line.get("host"), int(line.get("port") or 0), "error",
                addrs=list(line.get("addrs") or []))
    o.info = {"transport": r.transport, "runtime": line.get("rt") or r.runtime, "tcp": line.get("tcp")}
    if r.task:
        o.info["task"] = r.task
    for k in ("connect_ms", "auth", "reply", "role", "greeting", "protocol", "version", "tls", "login", "driver",
              "login_code", "innodb_read_only", "read_only"):
        if k in line:
            o.info[k] = line[k]
    tcp = line.get("tcp")
    if not line:
        o.outcome, o.detail = "error", "the probe printed no line for this target"
    elif tcp == "unset":
        o.outcome, o.detail = "unset", f"{'REDIS_HOST' if target == 'redis' else 'DB_HOST'} is empty in the container"
    elif tcp == "dns":
        o.outcome, o.detail = "dns", f"{o.host} does not resolve with the container's resolver"
    elif tcp in ("refused", "timeout", "unreachable"):
        o.outcome, o.detail = tcp, str(line.get("error") or "")
    elif tcp == "untested":
        o.outcome, o.detail = "error", str(line.get("error") or "no php, bash or nc in the container to open a TCP connection")
    elif tcp != "ok":
        o.outcome, o.detail = "error", str(line.get("error") or tcp)
    elif target == "redis":
        reply, auth = line.get("reply"), line.get("auth")
        if reply in ("NOAUTH", "WRONGPASS") or auth == "failed":
            o.outcome = "auth_failed"
            o.detail = "NOAUTH: the server requires a password the task does not send" if reply == "NOAUTH" \
                else "WRONGPASS: the task's REDIS_PASSWORD is rejected"
        elif reply == "READONLY" or line.get("role") not in (None, "master"):
            o.outcome, o.detail = "readonly", f"connected to a {line.get('role') or 'replica'}: writes fail with READONLY"
        elif reply == "PONG":
            o.outcome = "ok"
        else:
            o.outcome, o.detail = ("timeout", "connected but no reply to PING") if reply == "TIMEOUT" \
                else ("error", str(line.get("error") or f"PING answered {reply}"))
    else:
        g = line.get("greeting")
        if g == "ok":
            o.outcome, o.detail = mysql_login(line)
        elif g == "error":
            o.outcome, o.detail = "error", f"server sent an error instead of a greeting: {line.get('error', '')}"
        else:
            o.outcome, o.detail = "error", "connected but no MySQL greeting (is this a MySQL port?)"
    return o


def mysql_login(line: dict[str, Any]) -> tuple[str, str]:
    """The outcome of a task's MySQL line with a greeting: the probe's login as the worker (pdo_mysql or
    mysqli with DB_USERNAME / DB_PASSWORD) tells a reader and rejected credentials apart from a writer."""
    login = line.get("login")
    if login == "ok":
        flags = [f"@@{k} = 1" for k in ("innodb_read_only", "read_only") if line.get(k) == 1]
        if flags:
            return "reader", f"logged in as the worker to a read-only server ({', '.join(flags)}): writes fail (1290)"
        return "ok", ""
    if login == "failed":
        return "auth_failed", f"({line.get('login_code')}) {line.get('login_error', '')}".strip()
    if login == "error":
        return "error", f"greeting ok, but the worker's login failed: ({line.get('login_code')}) {line.get('login_error', '')}"
    return "ok", {
        "skipped": "greeting only: no DB_USERNAME in the container to log in with",
        "no_driver": "greeting only: the container's php has neither pdo_mysql nor mysqli, so read-only is not known",
        "no_php": "greeting only: no php in the container, so read-only is not known",
    }.get(str(login), "")


def summary(probed: list[TaskOutcome], host: Outcome | None, tasks: dict[str, list[ProbeResult]]) -> str:
    """One line: outcomes over every probed task, the tasks that differ, the host, e.g.
    'tasks: ok 2/3, timeout 1/3; task 1a2b3c4d (rev 41, subnet-0ab) of image: timeout; host: reader'."""
    parts = []
    total = sum(len(rs) for rs in tasks.values())
    if probed:
        counts: dict[str, int] = {}
        for _, o in probed:
            counts[o.outcome] = counts.get(o.outcome, 0) + 1
        parts.append("tasks: " + ", ".join(f"{k} {v}/{total}" for k, v in sorted(counts.items())))
        odd = [(r, o) for r, o in probed if o.outcome != "ok" and counts[o.outcome] < total]
        parts += [f"{r.label} of {r.service}: {o.outcome}" for r, o in odd[:3]]
    failed = [r for rs in tasks.values() for r in rs if not r.ok]
    if failed:
        parts.append(f"{len(failed)} task vantage(s) not probed")
        if probed:  # the others answered: name the ones that did not
            parts += [f"{r.label} of {r.service}: not probed" for r in failed[:3]]
    if host is not None:
        parts.append(f"host: {host.outcome}")
    return "; ".join(parts)
