"""The data stores behind the configured hosts: ElastiCache (Redis) and Aurora resources, their endpoints and SGs.

- ``redis_endpoints`` / ``redis_store``: every ElastiCache endpoint host, and the replication group or
  cache cluster whose endpoint is ``REDIS_HOST`` with its security groups and port.
- ``aurora_endpoints`` / ``aurora_store``: the same for Aurora clusters and ``DB_HOST``.
- ``live_aurora_stores``: the account's live Aurora clusters, judged instead when ``DB_HOST`` names none;
  ``writer_for_stale_db_host``: the writer endpoint to reach the database through then.
- ``store_via_chain``: also match a private alias (a CNAME) of one of those endpoints; ``db_host_store``: the
  Aurora cluster behind ``DB_HOST`` that way.

Each AWS listing is fetched once per run through ``facts.memo``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from doctor.net.dns import is_ip, resolve_chain
from doctor.util import norm_host

if TYPE_CHECKING:
    from doctor.facts.core import Facts


@dataclass
class DataStore:
    """An ElastiCache replication group / cache cluster or an Aurora cluster behind a configured host."""

    kind: str                        # redis | aurora
    id: str                          # replication group / cache cluster / DB cluster identifier
    port: int
    sgs: list[str] = field(default_factory=list)
    matched_endpoint: str = ""
    role: str = ""                   # primary | reader | node | writer | instance | custom | configured | account
    sg_source: str = ""              # where the SGs came from
    status: str = ""                 # Aurora: the cluster's status
    writer_endpoint: str = ""        # Aurora: the cluster (writer) endpoint

    @property
    def live(self) -> bool:
        """Serves connections (an Aurora cluster not being deleted, stopped or failed)."""
        return self.status not in DEAD_CLUSTER_STATUSES


DEAD_CLUSTER_STATUSES = frozenset({"deleting", "failed", "inaccessible-encryption-credentials", "stopped", "stopping"})


def redis_groups(facts: Facts) -> list[dict[str, Any]]:
    def fetch() -> list[dict[str, Any]]:
        ec = facts.aws.client("elasticache")
        out: list[dict[str, Any]] = []
        for page in ec.get_paginator("describe_replication_groups").paginate():
            out.extend(page.get("ReplicationGroups", []))
        return out

    return facts.memo("net.redis_groups", fetch)


def cache_clusters(facts: Facts) -> list[dict[str, Any]]:
    def fetch() -> list[dict[str, Any]]:
        ec = facts.aws.client("elasticache")
        out: list[dict[str, Any]] = []
        for page in ec.get_paginator("describe_cache_clusters").paginate(ShowCacheNodeInfo=True):
            out.extend(page.get("CacheClusters", []))
        return out

    return facts.memo("net.cache_clusters", fetch)


def redis_endpoints(facts: Facts) -> dict[str, tuple[str, str, int]]:
    """Every known ElastiCache endpoint host -> (replication group / cluster id, role, port).

    Roles: ``primary`` (primary or configuration endpoint), ``reader``, ``node`` (a member's own
    endpoint; changes role on failover), ``cluster`` (a standalone cache cluster's node).
    """
    out: dict[str, tuple[str, str, int]] = {}
    for g in redis_groups(facts):
        gid = g["ReplicationGroupId"]
        cfg = g.get("ConfigurationEndpoint") or {}
        if cfg.get("Address"):
            out[norm_host(cfg["Address"])] = (gid, "primary", int(cfg.get("Port") or 6379))
        for ng in g.get("NodeGroups", []):
            for key, role in (("PrimaryEndpoint", "primary"), ("ReaderEndpoint", "reader")):
                ep = ng.get(key) or {}
                if ep.get("Address"):
                    out.setdefault(norm_host(ep["Address"]), (gid, role, int(ep.get("Port") or 6379)))
            for m in ng.get("NodeGroupMembers", []):
                ep = m.get("ReadEndpoint") or {}
                if ep.get("Address"):
                    out.setdefault(norm_host(ep["Address"]), (gid, "node", int(ep.get("Port") or 6379)))
    try:
        clusters = cache_clusters(facts)
    except Exception:
        clusters = []
    for c in clusters:
        owner = c.get("ReplicationGroupId") or c["CacheClusterId"]
        for n in c.get("CacheNodes", []) or []:
            ep = n.get("Endpoint") or {}
            if ep.get("Address"):
                out.setdefault(norm_host(ep["Address"]), (owner, "cluster" if not c.get("ReplicationGroupId") else "node",
                                                     int(ep.get("Port") or 6379)))
        cfg = c.get("ConfigurationEndpoint") or {}
        if cfg.get("Address"):
            out.setdefault(norm_host(cfg["Address"]), (owner, "primary", int(cfg.get("Port") or 6379)))
    return out


def redis_store(facts: Facts, host: str | None) -> DataStore | None:
    """The ElastiCache resource whose endpoint is ``host``, with its SGs (API, else ElastiCache ENIs)."""
    ep = redis_endpoints(facts).get(norm_host(host))
    if ep is None:
        return None
    gid, role, port = ep
    members: list[str] = [gid]
    for g in redis_groups(facts):
        if g["ReplicationGroupId"] == gid:
            members = list(g.get("MemberClusters", [])) or [gid]
    sgs: list[str] = []
    source = ""
    try:
        clusters = {c["CacheClusterId"]: c for c in cache_clusters(facts)}
    except Exception:
        clusters = {}
    for m in members:
        for sg in (clusters.get(m) or {}).get("SecurityGroups", []) or []:
            if sg.get("SecurityGroupId") and sg["SecurityGroupId"] not in sgs:
                sgs.append(sg["SecurityGroupId"])
                source = "elasticache:DescribeCacheClusters"
    if not sgs:
        # Real ElastiCache creates one ENI per node with description "ElastiCache <cluster id>".
        ec2 = facts.aws.client("ec2")
        enis = ec2.describe_network_interfaces(
            Filters=[{"Name": "description", "Values": [f"ElastiCache {m}" for m in members]}])
        for eni in enis.get("NetworkInterfaces", []):
            for g in eni.get("Groups", []):
                if g["GroupId"] not in sgs:
                    sgs.append(g["GroupId"])
                    source = "ec2:DescribeNetworkInterfaces (ElastiCache ENIs)"
    return DataStore("redis", gid, port, sgs, norm_host(host), role, source)


def aurora_clusters(facts: Facts) -> list[dict[str, Any]]:
    def fetch() -> list[dict[str, Any]]:
        rds = facts.aws.client("rds")
        out: list[dict[str, Any]] = []
        for page in rds.get_paginator("describe_db_clusters").paginate():
            out.extend(page.get("DBClusters", []))
        return out

    return facts.memo("net.db_clusters", fetch)


def aurora_instances(facts: Facts) -> list[dict[str, Any]]:
    def fetch() -> list[dict[str, Any]]:
        rds = facts.aws.client("rds")
        out: list[dict[str, Any]] = []
        for page in rds.get_paginator("describe_db_instances").paginate():
            out.extend(page.get("DBInstances", []))
        return out

    return facts.memo("net.db_instances", fetch)


def aurora_endpoints(facts: Facts, with_instances: bool = True) -> dict[str, tuple[str, str, int]]:
    """Every Aurora endpoint host -> (cluster id, role, port); roles: writer, reader, custom, instance."""
    out: dict[str, tuple[str, str, int]] = {}
    for c in aurora_clusters(facts):
        cid, port = c["DBClusterIdentifier"], int(c.get("Port") or 3306)
        if c.get("Endpoint"):
            out[norm_host(c["Endpoint"])] = (cid, "writer", port)
        if c.get("ReaderEndpoint"):
            out.setdefault(norm_host(c["ReaderEndpoint"]), (cid, "reader", port))
        for ce in c.get("CustomEndpoints", []) or []:
            out.setdefault(norm_host(ce), (cid, "custom", port))
    if with_instances:
        for i in aurora_instances(facts):
            ep = i.get("Endpoint") or {}
            if ep.get("Address") and i.get("DBClusterIdentifier"):
                out.setdefault(norm_host(ep["Address"]), (i["DBClusterIdentifier"], "instance",
                                                     int(ep.get("Port") or 3306)))
    return out


def aurora_store(facts: Facts, host: str | None, cluster: str | None = None) -> DataStore | None:
    """The Aurora cluster named by ``[database] cluster`` or whose endpoint is ``host``."""
    clusters = {c["DBClusterIdentifier"]: c for c in aurora_clusters(facts)}
    cid, role, matched = None, "", ""
    if cluster:
        cid, role = (cluster, "configured") if cluster in clusters else (None, "")
    if cid is None and host:
        ep = aurora_endpoints(facts, with_instances=False).get(norm_host(host))
        if ep is None:
            try:
                ep = aurora_endpoints(facts).get(norm_host(host))
            except Exception:
                ep = None
        if ep is not None:
            cid, role, _ = ep
            matched = norm_host(host)
    if cid is None or cid not in clusters:
        return None
    return _aurora_store(clusters[cid], matched, role)


def db_host_store(facts: Facts, host: str | None, cluster: str | None = None) -> DataStore | None:
    """The Aurora cluster ``cluster`` (``[database] cluster``) names, else the one ``host`` (or a CNAME on its way)
    is an endpoint of."""
    if not host:
        return aurora_store(facts, None, cluster)
    return store_via_chain(facts, host, lambda h: aurora_store(facts, h, cluster))


def live_aurora_stores(facts: Facts, cluster: str | None = None) -> list[DataStore]:
    """The account's live Aurora clusters (only ``cluster`` when it is given): the ones to judge when ``DB_HOST``
    names no live cluster (a stale name, a deleted cluster), with role ``account``."""
    return [s for s in (_aurora_store(c, "", "account") for c in aurora_clusters(facts)
                        if not cluster or c["DBClusterIdentifier"] == cluster) if s.live]


def writer_for_stale_db_host(facts: Facts, host: str,
                             cluster: str | None = None) -> tuple[DataStore | None, list[str]]:
    """Where to reach the database when DB_HOST is stale (names no live Aurora cluster, resolved or not): the
    cluster ``cluster`` names, else the account's only live one — read through its ``writer_endpoint`` with the
    workers' credentials. With several live clusters to choose from: (None, their ids). (None, []): DB_HOST names
    a live cluster, or the account has none."""
    named = db_host_store(facts, host)
    if named is not None and named.live:
        return None, []
    live = [s for s in live_aurora_stores(facts, cluster) if s.writer_endpoint]
    if len(live) > 1:
        return None, [s.id for s in live]
    return (live[0] if live else None), []


def _aurora_store(c: dict[str, Any], matched: str, role: str) -> DataStore:
    sgs = [g["VpcSecurityGroupId"] for g in c.get("VpcSecurityGroups", []) if g.get("VpcSecurityGroupId")]
    return DataStore("aurora", c["DBClusterIdentifier"], int(c.get("Port") or 3306), sgs, matched, role,
                     "rds:DescribeDBClusters", status=str(c.get("Status") or ""),
                     writer_endpoint=norm_host(c.get("Endpoint") or ""))


def store_via_chain(facts: Facts, host: str | None, lookup: Callable[[str], DataStore | None]) -> DataStore | None:
    """``lookup(host)``, else ``lookup`` of each CNAME on the way from ``host`` (a private alias)."""
    if not host:
        return None
    found = lookup(host)
    if found is not None:
        return found
    if is_ip(host):
        return None
    res = facts.memo(("net.chain", norm_host(host)),
                     lambda: resolve_chain(host, facts.config.dns.nameservers or None, timeout=2.0))
    for name in res.chain[1:]:
        found = lookup(name)
        if found is not None:
            return found
    return None
