"""dns.resolve — DB_HOST / REDIS_HOST resolve, and name the live Aurora writer / ElastiCache primary."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from doctor.checkapi import CheckContext, check, load_meta
from doctor.facts.datastores import aurora_clusters, aurora_endpoints, redis_endpoints
from doctor.model import Finding
from doctor.net.dns import Resolution, is_ip, resolve_chain
from doctor.util import norm_host

META = load_meta(__file__)

AWS_SUFFIX = {"db": ".rds.amazonaws.com", "redis": ".cache.amazonaws.com"}


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    nameservers = ctx.config.dns.nameservers or None
    if not (ctx.config.redis.host and (ctx.config.database.host or ctx.config.database.cluster)):
        ctx.attempt("SSM values", ctx.facts.ssm_values)  # names ssm:GetParametersByPath when denied
    db = ctx.facts.db_target()
    redis = ctx.facts.redis_target()
    db_param = "[database] host" if db.source == "config" else ctx.config.ssm.path + "DB_HOST"
    redis_param = "[redis] host" if redis.source == "config" else ctx.config.ssm.path + "REDIS_HOST"

    if not db.host:
        ctx.unknown("DB_HOST is not set (ssm.values reports it)", unlock="[database] host")
    else:
        res = _resolve(ctx, db.host, nameservers)
        yield from _resolution(ctx, "db", db.host, db_param, res)
        endpoints = ctx.attempt("Aurora endpoints", lambda: aurora_endpoints(ctx.facts))
        if endpoints is not None:
            yield from _db_identity(ctx, db.host, db_param, res, endpoints)
    if not redis.host:
        ctx.unknown("REDIS_HOST is not set (ssm.values reports it)", unlock="[redis] host")
    else:
        res = _resolve(ctx, redis.host, nameservers)
        yield from _resolution(ctx, "redis", redis.host, redis_param, res)
        rendpoints = ctx.attempt("ElastiCache endpoints", lambda: redis_endpoints(ctx.facts))
        if rendpoints is not None:
            yield from _redis_identity(ctx, redis.host, redis_param, res, rendpoints)


def _variant(ctx: CheckContext, kind: str, role: str) -> str | None:
    """The variant of ``kind`` worded for endpoint ``role`` (None: the kind's generic wording)."""
    return role if role in ctx.meta.kinds[kind].variants else None


def _resolve(ctx: CheckContext, host: str, nameservers: list[str] | None) -> Resolution:
    return ctx.facts.memo(("net.chain", norm_host(host)), lambda: resolve_chain(host, nameservers, timeout=2.0))


def _resolution(ctx: CheckContext, what: str, host: str, param: str, res: Resolution) -> Iterator[Finding]:
    """A host that does not resolve: one kind per outcome (``db_nxdomain``, ``redis_timeout``, ...)."""
    if res.ok:
        return
    yield ctx.finding(f"{what}_{res.outcome}", host, evidence={**res.evidence(), "parameter": param},
                      resources=[host, param], host=host, param=param, resolver_detail=res.detail)


def _db_identity(ctx: CheckContext, host: str, param: str, res: Resolution,
                 endpoints: dict[str, tuple[str, str, int]]) -> Iterator[Finding]:
    clusters = {c["DBClusterIdentifier"]: c for c in aurora_clusters(ctx.facts)}
    writers = {cid: c.get("Endpoint", "") for cid, c in clusters.items()}
    cfg_cluster = ctx.config.database.cluster
    base = {"host": host, "parameter": param, "cname_chain": res.chain,
            "writer_endpoints": writers if not cfg_cluster else {cfg_cluster: writers.get(cfg_cluster)}}
    fix_cluster = cfg_cluster or (next(iter(writers)) if len(writers) == 1 else None)
    writer = writers.get(fix_cluster or "", "") if fix_cluster else ""
    fix = (ctx.text("db_set_writer", param=param, writer=writer, cluster=fix_cluster)
           if writer and param.startswith("/") else ctx.text("db_find_writer", param=param))
    if is_ip(host):
        yield ctx.finding("db_literal_ip", host, evidence=base, resources=[host, param],
                          signals=["dns.db_host_literal_ip"], host=host, set_endpoint=fix)
        return
    for name in res.chain:
        ep = endpoints.get(name)
        if ep is None:
            continue
        cid, role, _ = ep
        cluster = clusters.get(cid, {})
        ev = {**base, "matched": name, "cluster": cid, "role": role, "cluster_status": cluster.get("Status")}
        if cfg_cluster and cid != cfg_cluster:
            yield ctx.finding("db_other_cluster", host, evidence=ev, resources=[host, param, cid],
                              cluster=cid, cfg_cluster=cfg_cluster, set_endpoint=fix)
            return
        if role == "writer":
            status = str(cluster.get("Status", "available"))
            if status in ("deleting", "failed", "inaccessible-encryption-credentials", "stopped", "stopping"):
                yield ctx.finding("db_cluster_not_available", host, evidence=ev, resources=[host, param, cid],
                                  cluster=cid, status=status, param=param)
                return
            if res.ok:
                yield ctx.finding("db_ok", host, evidence={**ev, "addresses": res.addresses}, cluster=cid)
            return
        if role == "instance":
            member = next((m for m in cluster.get("DBClusterMembers", [])
                           if norm_host(m.get("DBInstanceIdentifier")) == name.split(".", 1)[0]), None)
            if member is not None:
                ev["instance_is_writer_now"] = bool(member.get("IsClusterWriter"))
        via = f" (via CNAME {name})" if name != norm_host(host) else ""
        yield ctx.finding("db_not_writer", host, evidence=ev, resources=[host, param, cid],
                          variant=_variant(ctx, "db_not_writer", role), role=role, cluster=cid, via=via,
                          set_endpoint=fix)
        return
    aws_names = [n for n in res.chain if n.endswith(AWS_SUFFIX["db"])]
    if aws_names:
        yield ctx.finding("db_stale", host, evidence={**base, "rds_names": aws_names}, resources=[host, param],
                          host=host, rds_name=aws_names[0], set_endpoint=fix)
    elif res.ok:
        yield ctx.finding("db_unmatched", host, evidence={**base, "addresses": res.addresses},
                          resources=[host, param], host=host, set_endpoint=fix)


def _redis_identity(ctx: CheckContext, host: str, param: str, res: Resolution,
                    endpoints: dict[str, tuple[str, str, int]]) -> Iterator[Finding]:
    primaries = sorted({h for h, (_, role, _) in endpoints.items() if role == "primary"})
    base: dict[str, Any] = {"host": host, "parameter": param, "cname_chain": res.chain,
                            "primary_endpoints": primaries}
    fix = (ctx.text("redis_set_primary", param=param, primary=primaries[0])
           if len(primaries) == 1 and param.startswith("/") else ctx.text("redis_find_primary", param=param))
    if is_ip(host):
        yield ctx.finding("redis_literal_ip", host, evidence=base, resources=[host, param],
                          signals=["dns.redis_host_literal_ip"], host=host, set_endpoint=fix)
        return
    for name in res.chain:
        ep = endpoints.get(name)
        if ep is None:
            continue
        gid, role, port = ep
        ev = {**base, "matched": name, "replication_group": gid, "role": role, "port": port}
        if role in ("primary", "cluster"):
            if not res.ok:
                return  # the right name, but it does not resolve: reported above, not ruled ok
            yield ctx.finding("redis_ok", host, evidence={**ev, "addresses": res.addresses}, group=gid)
            return
        yield ctx.finding("redis_not_primary", host, evidence=ev, resources=[host, param, gid],
                          variant=_variant(ctx, "redis_not_primary", role), role=role, group=gid, set_endpoint=fix)
        return
    aws_names = [n for n in res.chain if n.endswith(AWS_SUFFIX["redis"])]
    if aws_names:
        yield ctx.finding("redis_stale", host, evidence={**base, "cache_names": aws_names}, resources=[host, param],
                          host=host, cache_name=aws_names[0], set_endpoint=fix)
    elif res.ok:
        yield ctx.finding("redis_unmatched", host, evidence={**base, "addresses": res.addresses},
                          resources=[host, param], host=host, set_endpoint=fix)
