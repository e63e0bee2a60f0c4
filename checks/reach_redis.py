"""reach.redis — Redis answers PING (with AUTH) from inside every worker service's task and from this host."""

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
from doctor.net.hostprobe import Outcome, redis_check
from doctor.probe.result import ProbeResult

META = load_meta(__file__, include=["_reach.toml"])


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    target = ctx.facts.redis_target()
    if not target.host and ctx.config.exec.transport == "off":
        ctx.unknown("no Redis host (REDIS_HOST not in SSM, [redis] host unset) and no exec transport",
                    unlock="ssm:GetParametersByPath or [redis] host")
        return
    host, tasks = gather(ctx, lambda: redis_check(target, ctx.config.dns.nameservers, host_timeout(ctx)))
    yield from transport_findings(ctx, tasks)
    probed = [(r, task_outcome(r, r.redis, "redis")) for r in tasks.values() if r.ok]
    outcomes = [o for _, o in probed]
    any_ok = any(o.outcome == "ok" for o in outcomes)
    ssm = _ssm_fingerprints(ctx)
    for r, o in probed:
        if r.env:
            o.info["effective_prefix"] = r.env.get("redis_prefix")
            o.info["effective_db"] = r.env.get("redis_db")
            o.info["config_source"] = r.env.get("source")
            fp = (r.env.get("fp") or {}).get("REDIS_HOST")
            if fp and ssm.get("REDIS_HOST"):
                o.info["redis_host_matches_ssm"] = fp == ssm["REDIS_HOST"]
        yield outcome_finding(ctx, o, any_ok)
        yield from _dirs(ctx, r)
    ctx.summary = summary(outcomes, host, tasks)
    if host is not None and host.outcome != "unset":
        host.info.setdefault("prefix", target.prefix)
        host.info.setdefault("db", target.db)
        yield outcome_finding(ctx, host, any_ok)
        yield from _eviction(ctx, host)
    elif host is not None:
        ctx.unknown("host vantage: no Redis host known (REDIS_HOST not in SSM, [redis] host unset)",
                    unlock="ssm:GetParametersByPath or [redis] host")


def _eviction(ctx: CheckContext, host: Outcome) -> Iterator[Finding]:
    """Queue keys must never be evicted: a policy other than noeviction / volatile-*, or evictions seen."""
    policy, evicted = host.info.get("maxmemory_policy"), host.info.get("evicted_keys")
    risky = isinstance(policy, str) and policy.startswith("allkeys")
    if risky or (isinstance(evicted, int) and evicted > 0):
        yield ctx.finding("eviction", f"{host.host}:{host.port}", policy=policy, evicted=evicted,
                          evidence={"vantage": "host", "maxmemory_policy": policy, "evicted_keys": evicted})


def _ssm_fingerprints(ctx: CheckContext) -> dict[str, str | None]:
    try:
        values = ctx.facts.ssm_values()
    except Exception:
        return {}
    return {k: ctx.redactor.fingerprint(values.get(k)) for k in ("REDIS_HOST", "DB_HOST", "APP_KEY", "DB_PASSWORD")}


def _dirs(ctx: CheckContext, r: ProbeResult) -> Iterator[Finding]:
    if not r.dirs:
        return
    bad = {p: s for p, s in (r.dirs.get("dirs") or {}).items() if s != "ok"}
    if bad:
        yield ctx.finding(
            "runtime_dir_unwritable", r.vantage, service=r.service, dirs=", ".join(sorted(bad)),
            evidence={"vantage": r.vantage, "root": r.dirs.get("root"), "dirs": r.dirs.get("dirs")},
            resources=[r.service])
