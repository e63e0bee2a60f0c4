"""reach.aurora — the Aurora writer accepts connections from every worker service's task and from this host."""

from __future__ import annotations

from collections.abc import Iterator

from checks._reach import (
    gather,
    host_timeout,
    outcome_finding,
    summary,
    task_outcome,
    transport_findings,
)
from doctor.checkapi import CheckContext, check, load_meta
from doctor.model import Finding
from doctor.net.hostprobe import mysql_check

META = load_meta(__file__, include=["_reach.toml"])


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    target = ctx.facts.db_target()
    if not target.host and ctx.config.exec.transport == "off":
        ctx.unknown("no DB host (DB_HOST not in SSM, [database] host unset) and no exec transport",
                    unlock="ssm:GetParametersByPath or [database] host")
        return
    host, tasks = gather(ctx, lambda: mysql_check(target, ctx.config.dns.nameservers, host_timeout(ctx)))
    yield from transport_findings(ctx, tasks)
    outcomes = [task_outcome(r, r.mysql, "mysql") for r in tasks.values() if r.ok]
    any_ok = any(o.outcome == "ok" for o in outcomes)
    for o in outcomes:
        yield outcome_finding(ctx, o, any_ok)
    ctx.summary = summary(outcomes, host, tasks)
    if host is not None and host.outcome != "unset":
        yield outcome_finding(ctx, host, any_ok)
    elif host is not None:
        ctx.unknown("host vantage: no DB host known (DB_HOST not in SSM, [database] host unset)",
                    unlock="ssm:GetParametersByPath or [database] host")
