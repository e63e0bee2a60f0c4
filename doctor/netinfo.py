"""Shared AWS network facts: worker SGs/subnets, route tables, VPC endpoints, the data-store SGs.

Everything here is fetched once per run through ``facts.memo`` so sg.ingress, s3.access,
net.egress and exec.ready share one set of EC2 calls. Functions take the run's ``Facts``.

- ``worker_network(facts)``: worker SGs and subnets (with CIDRs, VPC, effective route table),
  from each service's ``networkConfiguration.awsvpcConfiguration``.
- ``path_to_service(facts, "ssmmessages")``: per worker subnet, how traffic to an AWS service
  leaves (gateway / interface endpoint, NAT, IGW with a public IP) or ``None``.
- ``redis_groups`` / ``redis_security_groups``, ``aurora_clusters`` / ``aurora_security_groups``:
  the ElastiCache and Aurora resources behind ``REDIS_HOST`` / ``DB_HOST`` and their SGs and ports.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from doctor.facts import Facts

T = TypeVar("T")

# service key -> endpoint service-name suffix (com.amazonaws.<region>.<suffix>)
AWS_SERVICES = {
    "s3": "s3", "ecr.api": "ecr.api", "ecr.dkr": "ecr.dkr", "logs": "logs", "ssm": "ssm",
    "ssmmessages": "ssmmessages",
}


@dataclass
class Subnet:
    id: str
    cidr: str
    vpc_id: str
    az: str = ""
    route_table: str | None = None      # effective route table id
    route_table_main: bool = False      # True when the subnet falls back to the VPC's main table


@dataclass
class WorkerNetwork:
    sgs: dict[str, list[str]] = field(default_factory=dict)          # sg id -> services using it
    subnets: dict[str, Subnet] = field(default_factory=dict)         # subnet id -> Subnet
    subnet_services: dict[str, list[str]] = field(default_factory=dict)
    public_ip: dict[str, bool] = field(default_factory=dict)         # service -> assignPublicIp
    no_network: list[str] = field(default_factory=list)              # services without awsvpc config
    vpcs: list[str] = field(default_factory=list)

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(s.cidr, strict=False) for s in self.subnets.values() if s.cidr]


@dataclass
class Path:
    """How a subnet reaches an AWS service. ``kind`` None means no path."""

    subnet: str
    service: str
    kind: str | None                 # gateway-endpoint | interface-endpoint | nat | igw | other | None
    via: str | None = None           # vpce-/nat-/igw- id
    route_table: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.kind is not None

    def evidence(self) -> dict[str, Any]:
        ev: dict[str, Any] = {"subnet": self.subnet, "path": self.kind, "via": self.via,
                              "route_table": self.route_table}
        if self.note:
            ev["note"] = self.note
        return ev


@dataclass
class DataStore:
    """An ElastiCache replication group / cache cluster or an Aurora cluster behind a configured host."""

    kind: str                        # redis | aurora
    id: str                          # replication group / cache cluster / DB cluster identifier
    port: int
    sgs: list[str] = field(default_factory=list)
    matched_endpoint: str = ""
    role: str = ""                   # primary | reader | node | writer | instance | custom
    sg_source: str = ""              # where the SGs came from


def norm(host: str | None) -> str:
    return (host or "").strip().rstrip(".").lower()


def region(facts: Facts) -> str:
    return str(facts.aws.region_name or facts.aws.client("ec2").meta.region_name)


# --- worker network -----------------------------------------------------------------------------
def worker_network(facts: Facts) -> WorkerNetwork:
    def fetch() -> WorkerNetwork:
        net = WorkerNetwork()
        for name, svc in facts.services().items():
            if svc is None:
                continue
            vpc = (svc.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
            if not vpc.get("subnets"):
                net.no_network.append(name)
                continue
            for sg in vpc.get("securityGroups", []) or []:
                net.sgs.setdefault(sg, []).append(name)
            for sn in vpc["subnets"]:
                net.subnet_services.setdefault(sn, []).append(name)
            net.public_ip[name] = vpc.get("assignPublicIp") == "ENABLED"
        if net.subnet_services:
            ec2 = facts.aws.client("ec2")
            resp = ec2.describe_subnets(SubnetIds=sorted(net.subnet_services))
            for s in resp.get("Subnets", []):
                net.subnets[s["SubnetId"]] = Subnet(s["SubnetId"], s.get("CidrBlock", ""), s["VpcId"],
                                                    s.get("AvailabilityZone", ""))
            net.vpcs = sorted({s.vpc_id for s in net.subnets.values()})
        return net

    return facts.memo("net.worker_network", fetch)


def vpc_info(facts: Facts, vpc_id: str) -> dict[str, Any]:
    """describe_vpcs entry plus ``EnableDnsSupport`` / ``EnableDnsHostnames`` booleans."""

    def fetch() -> dict[str, Any]:
        ec2 = facts.aws.client("ec2")
        vpc = dict(ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0])
        for attr, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
            vpc[key] = bool(ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attr)[key]["Value"])
        return vpc

    return facts.memo(("net.vpc", vpc_id), fetch)


def vpc_cidrs(facts: Facts, vpc_id: str) -> list[str]:
    vpc = vpc_info(facts, vpc_id)
    cidrs = [a["CidrBlock"] for a in vpc.get("CidrBlockAssociationSet", []) if a.get("CidrBlock")]
    return cidrs or ([vpc["CidrBlock"]] if vpc.get("CidrBlock") else [])


def route_tables(facts: Facts, vpc_id: str) -> list[dict[str, Any]]:
    def fetch() -> list[dict[str, Any]]:
        ec2 = facts.aws.client("ec2")
        out: list[dict[str, Any]] = []
        for page in ec2.get_paginator("describe_route_tables").paginate(
                Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]):
            out.extend(page.get("RouteTables", []))
        return out

    return facts.memo(("net.route_tables", vpc_id), fetch)


def route_table_for(facts: Facts, subnet: Subnet) -> tuple[dict[str, Any] | None, bool]:
    """The subnet's effective route table (explicit association, else the VPC main table) and is-main."""
    tables = route_tables(facts, subnet.vpc_id)
    main = None
    for t in tables:
        for a in t.get("Associations", []):
            if a.get("SubnetId") == subnet.id:
                return t, False
            if a.get("Main"):
                main = t
    return main, True


def vpc_endpoints(facts: Facts, vpc_id: str) -> list[dict[str, Any]]:
    def fetch() -> list[dict[str, Any]]:
        ec2 = facts.aws.client("ec2")
        out: list[dict[str, Any]] = []
        for page in ec2.get_paginator("describe_vpc_endpoints").paginate(
                Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]):
            out.extend(e for e in page.get("VpcEndpoints", []) if e.get("VpcId") == vpc_id)
        return out

    return facts.memo(("net.vpc_endpoints", vpc_id), fetch)


def endpoint_for(facts: Facts, vpc_id: str, service: str) -> list[dict[str, Any]]:
    """Live (not deleted/failed) VPC endpoints in ``vpc_id`` for ``service`` (a key of AWS_SERVICES)."""
    name = f"com.amazonaws.{region(facts)}.{AWS_SERVICES.get(service, service)}"
    return [e for e in vpc_endpoints(facts, vpc_id)
            if e.get("ServiceName") == name
            and str(e.get("State", "available")).lower() in ("available", "pending", "pendingacceptance")]


def _default_route(table: dict[str, Any]) -> dict[str, Any] | None:
    for r in table.get("Routes", []):
        if r.get("DestinationCidrBlock") == "0.0.0.0/0":
            return dict(r)
    return None


def path_to_service(facts: Facts, service: str) -> dict[str, Path]:
    """Per worker subnet: how it reaches ``service`` (s3, ecr.api, ecr.dkr, logs, ssm, ssmmessages)."""

    def fetch() -> dict[str, Path]:
        net = worker_network(facts)
        out: dict[str, Path] = {}
        for sn in net.subnets.values():
            table, is_main = route_table_for(facts, sn)
            sn.route_table, sn.route_table_main = (table or {}).get("RouteTableId"), is_main
            rt_id = sn.route_table
            eps = endpoint_for(facts, sn.vpc_id, service)
            gw = [e for e in eps if e.get("VpcEndpointType") == "Gateway" and rt_id in (e.get("RouteTableIds") or [])]
            itf = [e for e in eps if e.get("VpcEndpointType") == "Interface"]
            if gw:
                out[sn.id] = Path(sn.id, service, "gateway-endpoint", gw[0]["VpcEndpointId"], rt_id)
                continue
            itf_dns = [e for e in itf if e.get("PrivateDnsEnabled") or service == "s3"]
            if itf_dns:
                out[sn.id] = Path(sn.id, service, "interface-endpoint", itf_dns[0]["VpcEndpointId"], rt_id)
                continue
            route = _default_route(table) if table else None
            note = ""
            if itf:
                note = (f"interface endpoint {itf[0]['VpcEndpointId']} has private DNS disabled, so the default "
                        "service host name does not resolve to it")
            if route and str(route.get("State", "active")) == "active":
                target = route.get("NatGatewayId") or route.get("GatewayId") or route.get("TransitGatewayId") \
                    or route.get("NetworkInterfaceId") or route.get("VpcPeeringConnectionId") or route.get("InstanceId")
                if route.get("NatGatewayId"):
                    out[sn.id] = Path(sn.id, service, "nat", target, rt_id, note)
                    continue
                if str(target or "").startswith("igw-"):
                    services = net.subnet_services.get(sn.id, [])
                    if any(net.public_ip.get(s) for s in services):
                        out[sn.id] = Path(sn.id, service, "igw", target, rt_id, note)
                        continue
                    note = (note + "; " if note else "") + (
                        f"default route goes to {target} but the service does not assign a public IP "
                        "(assignPublicIp DISABLED), so Fargate tasks cannot use it")
                elif target and target != "local":
                    out[sn.id] = Path(sn.id, service, "other", target, rt_id,
                                      note or "default route to a non-NAT target; not verified further")
                    continue
            elif route:
                note = (note + "; " if note else "") + f"default route is {route.get('State')}"
            out[sn.id] = Path(sn.id, service, None, None, rt_id, note or "no endpoint and no default route")
        return out

    return facts.memo(("net.path", service), fetch)


# --- security groups ----------------------------------------------------------------------------
def security_groups(facts: Facts, ids: list[str]) -> dict[str, dict[str, Any]]:
    """describe_security_groups for ``ids`` (one call per distinct set per run); absent ids are left out."""
    key = tuple(sorted(set(ids)))

    def fetch() -> dict[str, dict[str, Any]]:
        if not key:
            return {}
        ec2 = facts.aws.client("ec2")
        try:
            groups = ec2.describe_security_groups(GroupIds=list(key))["SecurityGroups"]
        except Exception as e:
            if "InvalidGroup.NotFound" not in str(getattr(e, "response", {}).get("Error", {}).get("Code", "")):
                raise
            groups = []
            for gid in key:  # find which ones exist
                try:
                    groups.extend(ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"])
                except Exception as e2:
                    if "InvalidGroup.NotFound" not in str(getattr(e2, "response", {}).get("Error", {}).get("Code", "")):
                        raise
        return {g["GroupId"]: g for g in groups}

    return facts.memo(("net.sgs", key), fetch)


def prefix_list_cidrs(facts: Facts, pl_id: str) -> list[str]:
    def fetch() -> list[str]:
        ec2 = facts.aws.client("ec2")
        out: list[str] = []
        for page in ec2.get_paginator("get_managed_prefix_list_entries").paginate(PrefixListId=pl_id):
            out.extend(e["Cidr"] for e in page.get("Entries", []))
        return out

    return facts.memo(("net.prefix_list", pl_id), fetch)


def rule_covers_port(rule: dict[str, Any], port: int, protocol: str = "tcp") -> bool:
    proto = str(rule.get("IpProtocol", ""))
    if proto == "-1":
        return True
    if proto not in (protocol, {"tcp": "6", "udp": "17"}.get(protocol, "")):
        return False
    lo, hi = rule.get("FromPort"), rule.get("ToPort")
    if lo is None or hi is None or lo == -1:
        return True
    return int(lo) <= port <= int(hi)


def covers(cidr: str, subnet_cidr: str) -> bool:
    try:
        a = ipaddress.ip_network(cidr, strict=False)
        b = ipaddress.ip_network(subnet_cidr, strict=False)
    except ValueError:
        return False
    return a.version == b.version and b.subnet_of(a)  # type: ignore[arg-type]


def overlaps(cidr: str, other: str) -> bool:
    try:
        a = ipaddress.ip_network(cidr, strict=False)
        b = ipaddress.ip_network(other, strict=False)
    except ValueError:
        return False
    return a.version == b.version and a.overlaps(b)  # type: ignore[arg-type]


# --- data stores --------------------------------------------------------------------------------
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
            out[norm(cfg["Address"])] = (gid, "primary", int(cfg.get("Port") or 6379))
        for ng in g.get("NodeGroups", []):
            for key, role in (("PrimaryEndpoint", "primary"), ("ReaderEndpoint", "reader")):
                ep = ng.get(key) or {}
                if ep.get("Address"):
                    out.setdefault(norm(ep["Address"]), (gid, role, int(ep.get("Port") or 6379)))
            for m in ng.get("NodeGroupMembers", []):
                ep = m.get("ReadEndpoint") or {}
                if ep.get("Address"):
                    out.setdefault(norm(ep["Address"]), (gid, "node", int(ep.get("Port") or 6379)))
    try:
        clusters = cache_clusters(facts)
    except Exception:
        clusters = []
    for c in clusters:
        owner = c.get("ReplicationGroupId") or c["CacheClusterId"]
        for n in c.get("CacheNodes", []) or []:
            ep = n.get("Endpoint") or {}
            if ep.get("Address"):
                out.setdefault(norm(ep["Address"]), (owner, "cluster" if not c.get("ReplicationGroupId") else "node",
                                                     int(ep.get("Port") or 6379)))
        cfg = c.get("ConfigurationEndpoint") or {}
        if cfg.get("Address"):
            out.setdefault(norm(cfg["Address"]), (owner, "primary", int(cfg.get("Port") or 6379)))
    return out


def redis_store(facts: Facts, host: str | None) -> DataStore | None:
    """The ElastiCache resource whose endpoint is ``host``, with its SGs (API, else ElastiCache ENIs)."""
    ep = redis_endpoints(facts).get(norm(host))
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
    return DataStore("redis", gid, port, sgs, norm(host), role, source)


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
            out[norm(c["Endpoint"])] = (cid, "writer", port)
        if c.get("ReaderEndpoint"):
            out.setdefault(norm(c["ReaderEndpoint"]), (cid, "reader", port))
        for ce in c.get("CustomEndpoints", []) or []:
            out.setdefault(norm(ce), (cid, "custom", port))
    if with_instances:
        for i in aurora_instances(facts):
            ep = i.get("Endpoint") or {}
            if ep.get("Address") and i.get("DBClusterIdentifier"):
                out.setdefault(norm(ep["Address"]), (i["DBClusterIdentifier"], "instance",
                                                     int(ep.get("Port") or 3306)))
    return out


def aurora_store(facts: Facts, host: str | None, cluster: str | None = None) -> DataStore | None:
    """The Aurora cluster named by ``[database] cluster`` or whose endpoint is ``host``."""
    clusters = {c["DBClusterIdentifier"]: c for c in aurora_clusters(facts)}
    cid, role, matched = None, "", ""
    if cluster:
        cid, role = (cluster, "configured") if cluster in clusters else (None, "")
    if cid is None and host:
        ep = aurora_endpoints(facts, with_instances=False).get(norm(host))
        if ep is None:
            try:
                ep = aurora_endpoints(facts).get(norm(host))
            except Exception:
                ep = None
        if ep is not None:
            cid, role, _ = ep
            matched = norm(host)
    if cid is None or cid not in clusters:
        return None
    c = clusters[cid]
    sgs = [g["VpcSecurityGroupId"] for g in c.get("VpcSecurityGroups", []) if g.get("VpcSecurityGroupId")]
    return DataStore("aurora", cid, int(c.get("Port") or 3306), sgs, matched, role, "rds:DescribeDBClusters")


def store_via_chain(facts: Facts, host: str | None, lookup: Callable[[str], DataStore | None]) -> DataStore | None:
    """``lookup(host)``, else ``lookup`` of each CNAME on the way from ``host`` (a private alias)."""
    if not host:
        return None
    found = lookup(host)
    if found is not None:
        return found
    from doctor.resolve import is_ip, resolve_chain

    if is_ip(host):
        return None
    res = facts.memo(("net.chain", norm(host)),
                     lambda: resolve_chain(host, facts.config.dns.nameservers or None, timeout=2.0))
    for name in res.chain[1:]:
        found = lookup(name)
        if found is not None:
            return found
    return None
