"""dns.resolve — DB_HOST / REDIS_HOST resolve, and name the live Aurora writer / ElastiCache primary."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from doctor.checkapi import CheckContext, CheckMeta, check
from doctor.model import Finding
from doctor.netinfo import aurora_clusters, aurora_endpoints, norm, redis_endpoints
from doctor.resolve import Resolution, is_ip, resolve_chain

META = CheckMeta(
    id="dns.resolve",
    title="DB_HOST and REDIS_HOST resolve to the live writer / primary endpoints",
    order=3,
    proves="DB_HOST and REDIS_HOST resolve with the configured nameservers (CNAME chains followed; NXDOMAIN, "
    "timeout and no-answer told apart); DB_HOST is the live Aurora cluster writer endpoint (not the reader "
    "endpoint, an instance endpoint, a deleted cluster or a literal IP); REDIS_HOST is a live ElastiCache "
    "primary endpoint.",
    why="A worker pointed at the reader endpoint fails every write with 'read-only'; one pointed at an instance "
    "endpoint breaks at the next failover; a host of a deleted cluster or replication group fails DNS or reaches "
    "the wrong data. The values usually came from an old .env copied into SSM.",
    remediation="Put the cluster writer endpoint (`aws rds describe-db-clusters --query 'DBClusters[].Endpoint'`) "
    "in DB_HOST and the replication group primary endpoint in REDIS_HOST, then redeploy the worker services.",
    iam_actions=("ssm:GetParametersByPath", "kms:Decrypt", "rds:DescribeDBClusters", "rds:DescribeDBInstances",
                 "elasticache:DescribeReplicationGroups", "elasticache:DescribeCacheClusters"),
    needs=("aws",),
)

OUTCOME_TEXT = {"nxdomain": "does not exist (NXDOMAIN)", "timeout": "timed out", "no_answer": "has no address record",
                "error": "failed to resolve", "no_nameservers": "cannot be resolved (no nameservers configured)"}
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


def _resolve(ctx: CheckContext, host: str, nameservers: list[str] | None) -> Resolution:
    return ctx.facts.memo(("net.chain", norm(host)), lambda: resolve_chain(host, nameservers, timeout=2.0))


def _resolution(ctx: CheckContext, what: str, host: str, param: str, res: Resolution) -> Iterator[Finding]:
    key = "DB_HOST" if what == "db" else "REDIS_HOST"
    if res.ok:
        return
    signal = f"dns.{what}_host_{'nxdomain' if res.outcome == 'nxdomain' else res.outcome}"
    severity = "error" if res.outcome in ("nxdomain", "no_answer") else "warning"
    yield ctx.legacy_finding(
        f"{what}_{res.outcome}", host, severity, f"{key} {host} {OUTCOME_TEXT.get(res.outcome, res.outcome)}",
        detail=res.detail + (" (resolved from the doctor's host with the configured nameservers; set [dns] "
                             "nameservers to the VPC resolver to see what the workers see)"
                             if res.outcome == "timeout" else ""),
        evidence={**res.evidence(), "parameter": param}, resources=[host, param], signals=[signal],
        remediation=f"Check {param}: it must be the live endpoint's host name"
        + ("; for a timeout check the nameservers in [dns] nameservers" if res.outcome == "timeout" else ""))


def _db_identity(ctx: CheckContext, host: str, param: str, res: Resolution,
                 endpoints: dict[str, tuple[str, str, int]]) -> Iterator[Finding]:
    clusters = {c["DBClusterIdentifier"]: c for c in aurora_clusters(ctx.facts)}
    writers = {cid: c.get("Endpoint", "") for cid, c in clusters.items()}
    cfg_cluster = ctx.config.database.cluster
    base = {"host": host, "parameter": param, "cname_chain": res.chain,
            "writer_endpoints": writers if not cfg_cluster else {cfg_cluster: writers.get(cfg_cluster)}}
    fix_cluster = cfg_cluster or (next(iter(writers)) if len(writers) == 1 else None)
    writer = writers.get(fix_cluster or "", "") if fix_cluster else ""
    fix = (f"aws ssm put-parameter --name {param} --overwrite --value {writer} (the writer endpoint of "
           f"{fix_cluster}), then force a new deployment of the worker services" if writer and param.startswith("/")
           else f"Set {param} to the cluster writer endpoint (aws rds describe-db-clusters --query "
           "'DBClusters[].[DBClusterIdentifier,Endpoint]'), then redeploy the worker services")
    if is_ip(host):
        yield ctx.legacy_finding("db_literal_ip", host, "error", f"DB_HOST is a literal IP address ({host})",
                          detail="An IP pins one instance: after a failover it is a reader (writes fail read-only) "
                          "or gone. Use the cluster writer endpoint, which follows the writer.",
                          evidence=base, resources=[host, param],
                          signals=["dns.db_host_not_writer", "dns.db_host_literal_ip"], remediation=fix)
        return
    for name in res.chain:
        ep = endpoints.get(name)
        if ep is None:
            continue
        cid, role, _ = ep
        cluster = clusters.get(cid, {})
        ev = {**base, "matched": name, "cluster": cid, "role": role, "cluster_status": cluster.get("Status")}
        if cfg_cluster and cid != cfg_cluster:
            yield ctx.legacy_finding("db_other_cluster", host, "error",
                              f"DB_HOST points at cluster {cid}, not the configured cluster {cfg_cluster}",
                              evidence=ev, resources=[host, param, cid], signals=["dns.db_host_not_writer"],
                              remediation=fix)
            return
        if role == "writer":
            status = str(cluster.get("Status", "available"))
            if status in ("deleting", "failed", "inaccessible-encryption-credentials", "stopped", "stopping"):
                yield ctx.legacy_finding("db_cluster_not_available", host, "error",
                                  f"DB_HOST is the writer endpoint of {cid}, but the cluster is {status}",
                                  evidence=ev, resources=[host, param, cid], signals=["dns.db_host_stale"],
                                  remediation=f"Start or restore {cid}, or point {param} at the live cluster")
                return
            if res.ok:
                yield ctx.legacy_finding("db_ok", host, "info", f"DB_HOST is the writer endpoint of Aurora cluster {cid}",
                                  evidence={**ev, "addresses": res.addresses}, signals=["dns.db_ok"], remediation="")
            return
        what = {"reader": "the cluster READER endpoint", "custom": "a custom endpoint",
                "instance": "an instance endpoint"}.get(role, role)
        detail = {"reader": "Every write fails with 'The MySQL server is running with the --read-only option'.",
                  "instance": "It names one instance: after a failover it is a reader and every write fails.",
                  "custom": "Custom endpoints may include readers; workers need the writer."}.get(role, "")
        if role == "instance":
            member = next((m for m in cluster.get("DBClusterMembers", [])
                           if norm(m.get("DBInstanceIdentifier")) == name.split(".", 1)[0]), None)
            if member is not None:
                ev["instance_is_writer_now"] = bool(member.get("IsClusterWriter"))
        via = f" (via CNAME {name})" if name != norm(host) else ""
        yield ctx.legacy_finding("db_not_writer", host, "error", f"DB_HOST is {what} of {cid}{via}, not the writer endpoint",
                          detail=detail, evidence=ev, resources=[host, param, cid],
                          signals=["dns.db_host_not_writer"], remediation=fix)
        return
    aws_names = [n for n in res.chain if n.endswith(AWS_SUFFIX["db"])]
    if aws_names:
        yield ctx.legacy_finding("db_stale", host, "error",
                          f"DB_HOST {host} names no existing Aurora cluster or instance",
                          detail=f"{aws_names[0]} is an RDS endpoint of a cluster that no longer exists (or another "
                          "account/region): workers fail DNS or reach a different database.",
                          evidence={**base, "rds_names": aws_names}, resources=[host, param],
                          signals=["dns.db_host_stale"], remediation=fix)
    elif res.ok:
        yield ctx.legacy_finding("db_unmatched", host, "warning",
                          f"DB_HOST {host} does not lead to an Aurora writer endpoint",
                          detail="Its CNAME chain ends without reaching any cluster endpoint (an A record or alias "
                          "the doctor cannot tie to a cluster; after a failover it may point at a reader).",
                          evidence={**base, "addresses": res.addresses}, resources=[host, param],
                          signals=["dns.db_host_not_writer"], remediation=fix)


def _redis_identity(ctx: CheckContext, host: str, param: str, res: Resolution,
                    endpoints: dict[str, tuple[str, str, int]]) -> Iterator[Finding]:
    primaries = sorted({h for h, (_, role, _) in endpoints.items() if role == "primary"})
    base: dict[str, Any] = {"host": host, "parameter": param, "cname_chain": res.chain,
                            "primary_endpoints": primaries}
    fix = (f"aws ssm put-parameter --name {param} --overwrite --value {primaries[0]} (the primary endpoint), then "
           "force a new deployment of the worker services" if len(primaries) == 1 and param.startswith("/")
           else f"Set {param} to the replication group's primary endpoint (aws elasticache "
           "describe-replication-groups --query 'ReplicationGroups[].NodeGroups[].PrimaryEndpoint'), then redeploy")
    if is_ip(host):
        yield ctx.legacy_finding("redis_literal_ip", host, "warning", f"REDIS_HOST is a literal IP address ({host})",
                          detail="A node IP changes role (and address) on failover or replacement; use the primary "
                          "endpoint.", evidence=base, resources=[host, param],
                          signals=["dns.redis_host_not_primary", "dns.redis_host_literal_ip"], remediation=fix)
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
            yield ctx.legacy_finding("redis_ok", host, "info", f"REDIS_HOST is the primary endpoint of {gid}",
                              evidence={**ev, "addresses": res.addresses}, signals=["dns.redis_ok"], remediation="")
            return
        what = {"reader": "the READER endpoint", "node": "a single node's endpoint"}.get(role, role)
        yield ctx.legacy_finding("redis_not_primary", host, "error", f"REDIS_HOST is {what} of {gid}, not the primary endpoint",
                          detail="Replicas reject writes (READONLY): pushes and pops fail; a node endpoint changes "
                          "role on failover.", evidence=ev, resources=[host, param, gid],
                          signals=["dns.redis_host_not_primary"], remediation=fix)
        return
    aws_names = [n for n in res.chain if n.endswith(AWS_SUFFIX["redis"])]
    if aws_names:
        yield ctx.legacy_finding("redis_stale", host, "error", f"REDIS_HOST {host} names no existing ElastiCache endpoint",
                          detail=f"{aws_names[0]} belongs to a replication group that no longer exists (or another "
                          "account/region): workers fail DNS or talk to a different Redis than the app.",
                          evidence={**base, "cache_names": aws_names}, resources=[host, param],
                          signals=["dns.redis_host_stale"], remediation=fix)
    elif res.ok:
        yield ctx.legacy_finding("redis_unmatched", host, "warning",
                          f"REDIS_HOST {host} does not lead to an ElastiCache primary endpoint",
                          evidence={**base, "addresses": res.addresses}, resources=[host, param],
                          signals=["dns.redis_host_stale"], remediation=fix)
