"""The workers' network as AWS describes it: subnets, route tables, VPC endpoints, paths to AWS services.

Everything here is fetched once per run through ``facts.memo`` so sg.ingress, s3.access, net.egress
and exec.ready share one set of EC2 calls. Functions take the run's ``Facts``.

- ``worker_network(facts)``: worker SGs and subnets (with CIDRs, VPC, effective route table),
  from each service's ``networkConfiguration.awsvpcConfiguration``.
- ``path_to_service(facts, "ssmmessages")``: per worker subnet, how traffic to an AWS service
  leaves (gateway / interface endpoint, NAT, IGW with a public IP) or ``None``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from doctor.facts.core import Facts

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
