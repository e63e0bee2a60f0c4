"""What reach.redis and reach.aurora share: probe every service's task and the doctor host at once,
within the check's deadline, and turn each vantage's outcome into a finding with its signal."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from doctor.connect import Outcome
from doctor.probe import ProbeResult, probe_all

if TYPE_CHECKING:
    from doctor.checkapi import CheckContext
    from doctor.model import Finding

MARGIN = 2.0  # seconds kept for building findings inside the check's deadline

TITLES = {
    "ok": "{what} reachable from {vantage}",
    "refused": "{what} refused the connection from {vantage}",
    "timeout": "{what} connect timed out from {vantage}",
    "unreachable": "{what}: no route from {vantage}",
    "dns": "{what} host does not resolve from {vantage}",
    "auth_failed": "{what} rejected the credentials from {vantage}",
    "readonly": "{what} answered from {vantage} as a read-only replica",
    "reader": "{what} from {vantage} is a read-only reader, not the writer",
    "error": "{what} probe failed from {vantage}",
    "unset": "{what} host is not set for {vantage}",
}


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
            from doctor.aws import denied_action

            action = denied_action(r.error)
            if action:
                ctx.unknown(f"task:{svc} not probed: access denied ({action})", unlock=action)
                continue
        signals = ["exec.unavailable"]
        for p in r.problems:
            signals.extend(s for s in p.signals if s not in signals)
        unlock = next((p.unlock for p in r.problems if p.unlock), None)
        off = r.transport == "off" and all(p.kind == "exec_off" for p in r.problems)
        ctx.unknown(f"task:{svc} not probed ({r.reason})", unlock=unlock or "--exec ecs-exec|probe-task|local")
        remediation = next((p.remediation for p in reversed(r.problems) if p.remediation), "") or (
            "Check the exec transport prerequisites (`ame-doctor checks exec.ready`), or use --exec probe-task.")
        yield ctx.legacy_finding(
            "exec_unavailable", f"task:{svc}", "info" if off else "warning",
            f"Could not probe from a task of {svc}" + (" (exec transport off)" if off else ""),
            detail=str(r.reason or ""),
            evidence={"vantage": f"task:{svc}", "transport": r.transport, "reason": r.reason,
                      "tried": [p.kind for p in r.problems], "task": r.task},
            resources=[svc], remediation=remediation, signals=signals)
    if plugin is not None:
        yield ctx.legacy_finding("plugin_missing", "session-manager-plugin", "warning",
                          "session-manager-plugin is not installed on the doctor host",
                          detail=plugin.reason + "; ECS Exec cannot start a session without it.",
                          evidence={"transport": "ecs-exec", "fallback": ctx.config.exec.fallback},
                          remediation=plugin.remediation, signals=["exec.plugin_missing"])


def outcome_finding(ctx: CheckContext, o: Outcome, what: str, signal_prefix: str, signals: dict[str, str],
                    any_task_ok: bool, remediation: dict[str, str]) -> Finding:
    """One finding per vantage. A host vantage that cannot connect while a task connects is only a warning
    (the doctor host is usually outside the VPC); auth and reader outcomes stay errors from any vantage."""
    sev = "info" if o.outcome == "ok" else "error"
    detail = o.detail
    if o.outcome in ("timeout", "unreachable", "refused", "dns") and o.vantage == "host" and any_task_ok:
        sev = "warning"
        detail = (detail + "; " if detail else "") + "the workers reach it, so this host is probably outside the VPC"
    if o.outcome == "unset":
        sev = "warning"
    sig = signals.get(o.outcome)
    title = TITLES.get(o.outcome, TITLES["error"]).format(what=what, vantage=o.vantage)
    return ctx.legacy_finding(o.outcome, o.vantage, sev, title, detail=detail, evidence=o.evidence(),
                       resources=[o.vantage] + ([f"{o.host}:{o.port}"] if o.host else []),
                       remediation=remediation.get(o.outcome, ""),
                       signals=[f"{signal_prefix}{sig}"] if sig else [])


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
