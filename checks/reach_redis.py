"""reach.redis — Redis answers PING (with AUTH) from inside every worker service's task and from this host."""

from __future__ import annotations

from collections.abc import Iterator

from doctor.checkapi import CheckContext, CheckMeta, check
from doctor.connect import Outcome, redis_check
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
    id="reach.redis",
    title="Redis is reachable from the workers",
    order=4,
    proves="From a running task of each worker service (ECS Exec, a probe task, or locally) and from the doctor "
    "host: the Redis host resolves, TCP connects within the timeout, PING answers PONG (after AUTH when a "
    "password is set) and the node is the primary, not a read-only replica. Also reports the task's runtime "
    "directories and effective Redis prefix/DB.",
    why="Every queue job starts with a Redis pop. A refused, black-holed or unauthenticated Redis makes every "
    "worker fail at once; a replica endpoint makes every pop fail with READONLY. Only a probe from where the "
    "worker runs proves the security-group and DNS path the worker actually uses.",
    remediation="Timeout: allow 6379 from the worker SG on the Redis SG. Refused: check the port and that the "
    "node is up. DNS: fix REDIS_HOST in SSM (the primary endpoint). Auth: put the right REDIS_PASSWORD in SSM "
    "and redeploy the services.",
    iam_actions=("ecs:DescribeServices", "ecs:ListTasks", "ecs:DescribeTasks", "ecs:DescribeTaskDefinition",
                 "ecs:ExecuteCommand", "ecs:RunTask", "ecs:StopTask", "logs:GetLogEvents",
                 "ssm:GetParametersByPath"),
    needs=("aws", "redis", "exec"),
)

SIGNALS = {"ok": "redis_ok", "refused": "redis_refused", "timeout": "redis_timeout", "unreachable": "redis_timeout",
           "dns": "redis_dns_failed", "auth_failed": "redis_auth_failed", "readonly": "redis_readonly"}
FIX = {
    "timeout": "Allow TCP 6379 from the worker security group on the Redis security group (see sg.ingress), and "
    "check the worker subnets' route to the Redis subnets.",
    "unreachable": "No route from the worker subnet to the Redis subnet: check route tables and NACLs.",
    "refused": "Nothing listens on that host/port: check REDIS_PORT and that the replication group is available.",
    "dns": "Put the replication group's primary endpoint in REDIS_HOST (SSM) and redeploy the services.",
    "auth_failed": "Put the replication group's AUTH token in REDIS_PASSWORD (SSM, SecureString) and redeploy.",
    "readonly": "REDIS_HOST names a replica/reader endpoint: use the primary endpoint and redeploy.",
}
DIR_FIX = ("Create the Laravel runtime directories in the image and make them writable by the worker user: "
           "`mkdir -p storage/framework/{cache,sessions,views} storage/logs bootstrap/cache && chown -R www-data "
           "storage bootstrap/cache`; with readonlyRootFilesystem, mount volumes there.")


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    target = ctx.facts.redis_target()
    if not target.host and ctx.config.exec.transport == "off":
        ctx.unknown("no Redis host (REDIS_HOST not in SSM, [redis] host unset) and no exec transport",
                           unlock="ssm:GetParametersByPath or [redis] host")
        return
    host, tasks = gather(ctx, lambda: redis_check(target, ctx.config.dns.nameservers, host_timeout(ctx)))
    yield from transport_findings(ctx, tasks)
    outcomes = [task_outcome(r, r.redis, "redis") for r in tasks.values() if r.ok]
    any_ok = any(o.outcome == "ok" for o in outcomes)
    ssm = _ssm_fingerprints(ctx)
    for r in tasks.values():
        if not r.ok:
            continue
        o = task_outcome(r, r.redis, "redis")
        if r.env:
            o.info["effective_prefix"] = r.env.get("redis_prefix")
            o.info["effective_db"] = r.env.get("redis_db")
            o.info["config_source"] = r.env.get("source")
            fp = (r.env.get("fp") or {}).get("REDIS_HOST")
            if fp and ssm.get("REDIS_HOST"):
                o.info["redis_host_matches_ssm"] = fp == ssm["REDIS_HOST"]
        yield outcome_finding(ctx, o, "Redis", "reach.", SIGNALS, any_ok, FIX)
        yield from _dirs(ctx, r)
    ctx.summary = summary(outcomes, host, tasks)
    if host is not None and host.outcome != "unset":
        host.info.setdefault("prefix", target.prefix)
        host.info.setdefault("db", target.db)
        yield outcome_finding(ctx, host, "Redis", "reach.", SIGNALS, any_ok, FIX)
        yield from _eviction(ctx, host)
    elif host is not None:
        ctx.unknown("host vantage: no Redis host known (REDIS_HOST not in SSM, [redis] host unset)",
                         unlock="ssm:GetParametersByPath or [redis] host")


def _eviction(ctx: CheckContext, host: Outcome) -> Iterator[Finding]:
    """Queue keys must never be evicted: a policy other than noeviction / volatile-*, or evictions seen."""
    policy, evicted = host.info.get("maxmemory_policy"), host.info.get("evicted_keys")
    risky = isinstance(policy, str) and policy.startswith("allkeys")
    if risky or (isinstance(evicted, int) and evicted > 0):
        yield ctx.legacy_finding(
            "eviction", f"{host.host}:{host.port}", "warning",
            f"Redis can evict queue keys (maxmemory-policy {policy}, {evicted} keys evicted)",
            detail="Laravel queue lists and sorted sets have no TTL; under allkeys-* policies Redis drops them "
            "when memory is full and jobs vanish without a trace.",
            evidence={"vantage": "host", "maxmemory_policy": policy, "evicted_keys": evicted},
            remediation="Set the parameter group's maxmemory-policy to noeviction (or volatile-lru) and size the "
            "node for the backlog.", signals=["reach.redis_evicting"])


def _ssm_fingerprints(ctx: CheckContext) -> dict[str, str | None]:
    try:
        values = ctx.facts.ssm_values()
    except Exception:
        return {}
    return {k: ctx.redactor.fingerprint(values.get(k)) for k in ("REDIS_HOST", "DB_HOST", "APP_KEY", "DB_PASSWORD")}


def _dirs(ctx: CheckContext, r: object) -> Iterator[Finding]:
    from doctor.probe import ProbeResult

    assert isinstance(r, ProbeResult)
    if not r.dirs:
        return
    bad = {p: s for p, s in (r.dirs.get("dirs") or {}).items() if s != "ok"}
    if bad:
        yield ctx.legacy_finding(
            "runtime_dir_unwritable", r.vantage, "error",
            f"Laravel runtime directories not writable in {r.service}: {', '.join(sorted(bad))}",
            detail="Laravel needs storage/framework/{cache,sessions,views}, storage/logs and bootstrap/cache "
            "writable; workers crash with 'Please provide a valid cache path.' otherwise.",
            evidence={"vantage": r.vantage, "root": r.dirs.get("root"), "dirs": r.dirs.get("dirs")},
            resources=[r.service], remediation=DIR_FIX, signals=["probe.runtime_dir_unwritable"])
