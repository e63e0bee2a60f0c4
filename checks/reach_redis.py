"""reach.redis — Redis answers PING (with AUTH) from inside every worker service's task and from this host."""

from __future__ import annotations

from collections.abc import Iterator

from checks._reach import (
    CONNECTED_OUTCOMES,
    gather,
    host_probe_kwargs,
    outcome_finding,
    summary,
    task_facts,
    task_findings,
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
    host, tasks = gather(ctx, lambda: redis_check(target, ctx.config.dns.nameservers, **host_probe_kwargs(ctx)))
    yield from transport_findings(ctx, tasks)
    ssm = _ssm_values(ctx)
    probed = []
    for svc, results in tasks.items():
        mine = [(r, task_outcome(r, r.redis, "redis")) for r in results if r.ok]
        for r, o in mine:
            if r.env:
                o.info["effective_prefix"] = r.env.get("redis_prefix")
                o.info["effective_db"] = r.env.get("redis_db")
                o.info["config_source"] = r.env.get("source")
                same = r.matches("REDIS_HOST", ssm.get("REDIS_HOST"))
                if same is not None:
                    o.info["redis_host_matches_ssm"] = same
                elif r.fingerprint_note:
                    o.info["fingerprints"] = r.fingerprint_note
            if r.dirs:
                o.info["app_root"] = r.dirs.get("root") or None
                o.info["app_root_source"] = r.dirs.get("root_source")
        probed += mine
        yield from task_findings(ctx, svc, mine, len(results))
        yield from _dirs(ctx, svc, [r for r in results if r.ok])
    ctx.summary = summary(probed, host, tasks)
    if host is not None and host.outcome != "unset":
        host.info.setdefault("prefix", target.prefix)
        host.info.setdefault("db", target.db)
        yield outcome_finding(ctx, host, any(o.outcome in CONNECTED_OUTCOMES for _, o in probed))
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


def _ssm_values(ctx: CheckContext) -> dict[str, str]:
    try:
        return ctx.facts.ssm_values()
    except Exception:
        return {}


def _dirs(ctx: CheckContext, svc: str, results: list[ProbeResult]) -> Iterator[Finding]:
    """Runtime directories the worker's user cannot write (or that are missing), judged by the probe as
    that user in the app root it found; one finding per service naming the tasks when they differ."""
    bad = [(r, {p: s for p, s in (r.dirs.get("dirs") or {}).items() if s in ("missing", "unwritable")})
           for r in results if r.dirs]
    bad = [(r, b) for r, b in bad if b]
    if not bad:
        return
    r, dirs = bad[0]
    d = r.dirs or {}
    who = d.get("as") or {}
    states = ", ".join(f"{p} {s}" + (f" ({(d.get('modes') or {}).get(p)} uid:gid:mode)" if s == "unwritable"
                                     and (d.get("modes") or {}).get(p) else "") for p, s in sorted(dirs.items()))
    where = f" in {len(bad)} of {len(results)} tasks ({', '.join(t.label for t, _ in bad[:3])})" \
        if len(bad) < len(results) else ""
    yield ctx.finding(
        "runtime_dir_unwritable", r.vantage, service=svc, dirs=", ".join(sorted(dirs)),
        states=states + where, root=d.get("root") or "?",
        as_user=f"uid {who.get('uid')}, gid {who.get('gid')}, from {who.get('source')}",
        evidence={"vantage": r.vantage, "root": d.get("root"), "root_source": d.get("root_source"),
                  "as": who, "dirs": d.get("dirs"), "modes": d.get("modes"),
                  "tasks": [task_facts(t) | {"dirs": b} for t, b in bad] if len(results) > 1 else None},
        resources=[svc])
