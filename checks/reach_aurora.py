"""reach.aurora — the Aurora writer accepts connections from every worker service's task and from this host."""

from __future__ import annotations

from collections.abc import Iterator

from doctor.checkapi import CheckContext, CheckMeta, check
from doctor.connect import mysql_check
from doctor.model import Finding
from doctor.probe.reach import (
    gather,
    host_timeout,
    outcome_finding,
    summary,
    task_outcome,
    transport_findings,
)

META = CheckMeta(
    id="reach.aurora",
    title="Aurora (MySQL) is reachable from the workers",
    order=5,
    proves="From a running task of each worker service and from the doctor host: DB_HOST resolves, TCP connects "
    "within the timeout and the server sends a MySQL greeting (protocol, version); from the host also the login "
    "works, `@@innodb_read_only` is 0 (not a reader) and, on Aurora, the instance is the cluster writer.",
    why="Laravel opens a DB connection for every job (failed_jobs, job data). A missing Aurora ingress rule shows "
    "as connect timeouts; a reader endpoint in DB_HOST fails every write with 'read-only'; a wrong password "
    "fails every job with SQLSTATE[HY000] [1045].",
    remediation="Timeout: allow 3306 from the worker SG on the Aurora SG. Reader: put the cluster writer endpoint "
    "in DB_HOST. Auth: fix DB_USERNAME/DB_PASSWORD in SSM. Then redeploy the worker services.",
    iam_actions=("ecs:DescribeServices", "ecs:ListTasks", "ecs:DescribeTasks", "ecs:DescribeTaskDefinition",
                 "ecs:ExecuteCommand", "ecs:RunTask", "ecs:StopTask", "logs:GetLogEvents",
                 "ssm:GetParametersByPath"),
    needs=("aws", "mysql", "exec"),
)

SIGNALS = {"ok": "aurora_ok", "refused": "aurora_refused", "timeout": "aurora_timeout",
           "unreachable": "aurora_timeout", "dns": "aurora_dns_failed", "auth_failed": "aurora_auth_failed",
           "reader": "aurora_reader"}
FIX = {
    "timeout": "Allow TCP 3306 from the worker security group on the Aurora security group (see sg.ingress).",
    "unreachable": "No route from the worker subnet to the Aurora subnets: check route tables and NACLs.",
    "refused": "Nothing listens there: check DB_PORT and that the cluster/instance is available.",
    "dns": "Put the cluster writer endpoint (`aws rds describe-db-clusters --query 'DBClusters[].Endpoint'`) in "
    "DB_HOST and redeploy the services.",
    "auth_failed": "Fix DB_USERNAME / DB_PASSWORD / DB_DATABASE in SSM (SecureString for the password) and redeploy.",
    "reader": "DB_HOST points at a reader (or a reader instance): use the cluster writer endpoint and redeploy.",
}


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
        yield outcome_finding(ctx, o, "Aurora", "reach.", SIGNALS, any_ok, FIX)
    ctx.summary = summary(outcomes, host, tasks)
    if host is not None and host.outcome != "unset":
        yield outcome_finding(ctx, host, "Aurora", "reach.", SIGNALS, any_ok, FIX)
    elif host is not None:
        ctx.unknown("host vantage: no DB host known (DB_HOST not in SSM, [database] host unset)",
                         unlock="ssm:GetParametersByPath or [database] host")
