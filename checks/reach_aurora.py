"""reach.aurora — the Aurora writer accepts connections from every worker service's tasks and from this host.

From a task the probe reads the greeting, then logs in as the worker (DB_USERNAME / DB_PASSWORD with
pdo_mysql, else mysqli) and reads ``@@innodb_read_only`` / ``@@read_only``: a reader endpoint in DB_HOST is
``reader`` from the tasks too, not only from the host."""

from __future__ import annotations

from collections.abc import Iterator

from checks._reach import (
    CONNECTED_OUTCOMES,
    gather,
    host_probe_kwargs,
    outcome_finding,
    summary,
    task_findings,
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
    host, tasks = gather(ctx, lambda: mysql_check(target, ctx.config.dns.nameservers, **host_probe_kwargs(ctx)))
    yield from transport_findings(ctx, tasks)
    probed = []
    for svc, results in tasks.items():
        mine = [(r, task_outcome(r, r.mysql, "mysql")) for r in results if r.ok]
        probed += mine
        yield from task_findings(ctx, svc, mine, len(results))
    ctx.summary = summary(probed, host, tasks)
    if host is not None and host.outcome != "unset":
        yield outcome_finding(ctx, host, any(o.outcome in CONNECTED_OUTCOMES for _, o in probed))
    elif host is not None:
        ctx.unknown("host vantage: no DB host known (DB_HOST not in SSM, [database] host unset)",
                    unlock="ssm:GetParametersByPath or [database] host")
