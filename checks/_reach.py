"""What reach.redis and reach.aurora share: probe every service's task and the doctor host at once,
within the check's deadline, and turn each vantage's outcome into a finding of the check's declared
kind of the same name (``ok``, ``timeout``, ``auth_failed``, ...; each check's TOML holds the title,
signal and fix of each). The kinds both checks report alike (``exec_unavailable``,
``plugin_missing``) are declared once in ``_reach.toml`` beside this module.

Not a check (the registry skips modules starting with ``_``): check code, so it sits above
:mod:`doctor.checkapi` and :mod:`doctor.probe`, which know nothing of findings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from doctor.aws import denied_action
from doctor.net.hostprobe import Outcome
from doctor.probe.result import ProbeResult
from doctor.probe.runner import probe_all

if TYPE_CHECKING:
    from doctor.checkapi import CheckContext
    from doctor.model import Finding

MARGIN = 2.0  # seconds kept for building findings inside the check's deadline
NETWORK_OUTCOMES = ("timeout", "unreachable", "refused", "dns")


def budget(ctx: CheckContext) -> float:
    return max(1.0, (ctx.meta.timeout or ctx.config.run.check_timeout) - MARGIN)


def host_timeout(ctx: CheckContext) -> float:
    return max(1.0, min(5.0, ctx.config.exec.timeout / 6))


def gather(ctx: CheckContext, host_fn: Callable[[], Outcome]) -> tuple[Outcome | None, dict[str, ProbeResult]]:
    """Run the host probe and every service's task probe concurrently, all inside the deadline."""
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
        tasks: dict[str, ProbeResult] = {}
        for s in services:
            tasks[s] = ProbeResult(service=s, transport="off", reason="exec transport is off")
    else:
        tasks = probe_all(ctx.facts, services, deadline)
    t.join(deadline)
    out = box.get("host")
    if out is None:
        what = "redis" if "redis" in ctx.meta.id else "mysql"
        err = box.get("host_error")
        out = Outcome(what, "host", None, 0, "error" if err else "timeout",
                      detail=f"{type(err).__name__}: {err}" if err else f"host probe did not finish within {deadline:g}s")
    return out, tasks


def transport_findings(ctx: CheckContext, tasks: dict[str, ProbeResult]) -> Iterator[Finding]:
    """Findings for services whose task could not be probed (and the plugin-missing hint, once)."""
    plugin = None
    for svc, r in tasks.items():
        for p in r.problems:
            if p.kind == "plugin_missing":
                plugin = p
        if r.ok:
            continue
        if r.error is not None:
            action = denied_action(r.error)
            if action:
                ctx.unknown(f"task:{svc} not probed: access denied ({action})", unlock=action)
                continue
        signals = [s for p in r.problems for s in p.signals]
        unlock = next((p.unlock for p in r.problems if p.unlock), None)
        off = r.transport == "off" and all(p.kind == "exec_off" for p in r.problems)
        ctx.unknown(f"task:{svc} not probed ({r.reason})", unlock=unlock or "--exec ecs-exec|probe-task|local")
        # the last transport's own advice (enable ECS Exec, install the plugin, ...), else the kind's fix
        advice = next((p.remediation for p in reversed(r.problems) if p.remediation), "")
        yield ctx.finding(
            "exec_unavailable", f"task:{svc}", variant="off" if off else None, signals=signals,
            evidence={"vantage": f"task:{svc}", "transport": r.transport, "reason": r.reason,
                      "tried": [p.kind for p in r.problems], "task": r.task},
            resources=[svc], service=svc, reason=str(r.reason or ""),
            advice=advice or ctx.meta.kinds["exec_unavailable"].fix)
    if plugin is not None:
        yield ctx.finding("plugin_missing", "session-manager-plugin", reason=plugin.reason,
                          evidence={"transport": "ecs-exec", "fallback": ctx.config.exec.fallback})


def outcome_finding(ctx: CheckContext, o: Outcome, any_task_ok: bool) -> Finding:
    """One finding per vantage, of the kind named after its outcome. A host vantage that cannot connect
    while a task connects is the kind's variant ``host_outside_vpc`` (a warning: the doctor host is usually
    outside the VPC); auth and reader outcomes stay errors from any vantage."""
    outside = o.outcome in NETWORK_OUTCOMES and o.vantage == "host" and any_task_ok
    return ctx.finding(o.outcome, o.vantage, variant="host_outside_vpc" if outside else None,
                       evidence=o.evidence(), resources=[o.vantage] + ([f"{o.host}:{o.port}"] if o.host else []),
                       vantage=o.vantage, detail=o.detail, detail_prefix=f"{o.detail}; " if o.detail else "")


def task_outcome(r: ProbeResult, line: dict[str, Any] | None, target: str) -> Outcome:
    """The probe's line for ``target`` (redis | mysql) as an Outcome of vantage task:<service>."""
    line = line or {}
    o = Outcome(target, r.vantage, line.get("host"), int(line.get("port") or 0), "error",
                addrs=list(line.get("addrs") or []))
    o.info = {"transport": r.transport, "runtime": line.get("rt") or r.runtime, "tcp": line.get("tcp")}
    if r.task:
        o.info["task"] = r.task
    for k in ("connect_ms", "auth", "reply", "role", "greeting", "protocol", "version", "tls"):
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
        o.outcome, o.detail = "error", "no php, bash or nc in the container to open a TCP connection"
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
            o.outcome = "ok"
        elif g == "error":
            o.outcome, o.detail = "error", f"server sent an error instead of a greeting: {line.get('error', '')}"
        else:
            o.outcome, o.detail = "error", "connected but no MySQL greeting (is this a MySQL port?)"
    return o


def summary(outcomes: list[Outcome], host: Outcome | None, tasks: dict[str, ProbeResult]) -> str:
    """One line: outcomes per vantage, e.g. 'tasks: ok 3/3; host: timeout'."""
    parts = []
    if outcomes:
        counts: dict[str, int] = {}
        for o in outcomes:
            counts[o.outcome] = counts.get(o.outcome, 0) + 1
        parts.append("tasks: " + ", ".join(f"{k} {v}/{len(tasks)}" for k, v in sorted(counts.items())))
    unprobed = len(tasks) - len(outcomes)
    if unprobed:
        parts.append(f"{unprobed} task vantage(s) not probed")
    if host is not None:
        parts.append(f"host: {host.outcome}")
    return "; ".join(parts)
