"""net.egress — the worker subnets can reach the AWS APIs a Fargate worker needs (NAT or VPC endpoints)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from typing import Any

from doctor.checkapi import CheckContext, check, load_meta
from doctor.facts.cidr import covers, rule_covers_port
from doctor.facts.network import (
    Path,
    WorkerNetwork,
    path_to_service,
    region,
    vpc_endpoints,
    vpc_info,
    worker_network,
)
from doctor.facts.security_groups import security_groups
from doctor.model import Finding

META = load_meta(__file__)

SERVICES = ("s3", "ecr.api", "ecr.dkr", "logs", "ssm", "ssmmessages")


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    net = worker_network(ctx.facts)
    if not net.subnets:
        ctx.unknown("no worker subnets (services missing or without awsvpc networkConfiguration)",
                    unlock="ecs:DescribeServices")
        return
    problems = 0
    for vpc in net.vpcs:
        info = ctx.attempt(f"VPC {vpc} attributes", functools.partial(vpc_info, ctx.facts, vpc))
        if info is None:
            continue
        off = [k for k in ("EnableDnsSupport", "EnableDnsHostnames") if not info.get(k)]
        if off:
            problems += 1
            only = None if len(off) == 2 else "support" if off == ["EnableDnsSupport"] else "hostnames"
            yield ctx.finding(
                "vpc_dns_disabled", vpc, variant=only, vpc=vpc, off=" and ".join(off),
                evidence={"vpc": vpc, "EnableDnsSupport": info.get("EnableDnsSupport"),
                          "EnableDnsHostnames": info.get("EnableDnsHostnames")})

    service_sgs = _service_sgs(net)
    egress_blocked = yield from _worker_egress(ctx, net, service_sgs)
    problems += egress_blocked
    summary: dict[str, dict[str, Any]] = {}
    for svc in SERVICES:
        paths = ctx.attempt(f"path to {svc}", functools.partial(path_to_service, ctx.facts, svc))
        if paths is None:
            continue
        summary[svc] = {sid: p.kind for sid, p in paths.items()}
        missing = [p for p in paths.values() if not p.ok]
        for p in paths.values():
            if p.kind == "interface-endpoint" and p.via:
                blocked = _endpoint_sg_blocked(ctx, net, p, service_sgs)
                if blocked:
                    missing.append(dataclasses.replace(p, note=blocked))  # the shared Path stays as computed
        if missing:
            problems += 1
            yield _no_path(ctx, net, svc, missing)
        yield from _private_dns_off(ctx, net, svc, paths)
    if problems == 0:
        yield ctx.finding("ok", "+".join(net.vpcs), evidence={"paths": summary, "subnets": sorted(net.subnets)})


def _no_path(ctx: CheckContext, net: WorkerNetwork, svc: str, missing: list[Path]) -> Finding:
    sids = sorted({p.subnet for p in missing})
    tables = sorted({p.route_table or "?" for p in missing})
    services = sorted({s for sid in sids for s in net.subnet_services.get(sid, [])})
    blocked = [p for p in missing if p.kind == "interface-endpoint"]
    name = f"com.amazonaws.{region(ctx.facts)}.{svc}"
    return ctx.finding(
        f"no_path_{svc.replace('.', '_')}", svc, variant="endpoint_sg_blocked" if blocked else None,
        signals=["net.endpoint_sg_blocked"] if blocked else [], endpoint=blocked[0].via if blocked else None,
        subnets=", ".join(sids), subnet_ids=" ".join(sids), tables=", ".join(tables), table_ids=" ".join(tables),
        vpc=net.subnets[sids[0]].vpc_id, endpoint_service=name, worker_sg=_first_sg(net, services),
        notes="; ".join(sorted({p.note for p in missing if p.note})),
        evidence={"service": svc, "endpoint_service": name, "subnets": [p.evidence() for p in missing],
                  "route_tables": tables, "services": services},
        resources=[*sids, *tables, *services])


def _private_dns_off(ctx: CheckContext, net: WorkerNetwork, svc: str, paths: dict[str, Path]) -> Iterator[Finding]:
    name = f"com.amazonaws.{region(ctx.facts)}.{svc}"
    for vpc in net.vpcs:
        for e in vpc_endpoints(ctx.facts, vpc):
            if e.get("ServiceName") == name and e.get("VpcEndpointType") == "Interface" and not e.get(
                    "PrivateDnsEnabled") and svc != "s3":
                used_nat = sorted(sid for sid, p in paths.items() if p.kind in ("nat", "igw", "other"))
                yield ctx.finding(
                    "private_dns_disabled", e["VpcEndpointId"], variant="via_nat" if used_nat else None,
                    endpoint=e["VpcEndpointId"], service=svc,
                    evidence={"endpoint": e["VpcEndpointId"], "service": name, "subnets_via_nat": used_nat})


def _endpoint_sg_blocked(ctx: CheckContext, net: WorkerNetwork, path: Path,
                         service_sgs: dict[str, list[str]]) -> str | None:
    """Why the interface endpoint's SGs do not admit 443 from the services in ``path.subnet``, or None."""
    vpc = net.subnets[path.subnet].vpc_id
    ep = next((e for e in vpc_endpoints(ctx.facts, vpc) if e.get("VpcEndpointId") == path.via), None)
    if ep is None:
        return None
    ep_sgs = [g["GroupId"] for g in ep.get("Groups", []) if g.get("GroupId")]
    groups = ctx.attempt(f"SGs of {path.via}", functools.partial(security_groups, ctx.facts, ep_sgs))
    if groups is None:
        return None
    cidr = net.subnets[path.subnet].cidr
    for service in net.subnet_services.get(path.subnet, []):
        mine = set(service_sgs.get(service, []))
        ok = False
        for g in groups.values():
            for rule in g.get("IpPermissions", []):
                if not rule_covers_port(rule, 443):
                    continue
                if any(p.get("GroupId") in mine for p in rule.get("UserIdGroupPairs", [])):
                    ok = True
                if any(covers(r.get("CidrIp", ""), cidr) for r in rule.get("IpRanges", [])):
                    ok = True
        if not ok:
            return (f"endpoint {path.via} SG(s) {', '.join(ep_sgs) or '(none)'} do not allow 443 from {service}'s "
                    f"SG(s) {', '.join(sorted(mine))} or subnet {cidr}")
    return None


def _worker_egress(ctx: CheckContext, net: WorkerNetwork, service_sgs: dict[str, list[str]]) -> Any:
    all_sgs = sorted({sg for sgs in service_sgs.values() for sg in sgs})
    groups = ctx.attempt("worker SGs", functools.partial(security_groups, ctx.facts, all_sgs))
    if groups is None:
        return 0
    bad = 0
    for service, sgs in service_sgs.items():
        rules = [r for sg in sgs for r in (groups.get(sg) or {}).get("IpPermissionsEgress", [])]
        if any(rule_covers_port(r, 443) and (r.get("IpRanges") or r.get("Ipv6Ranges") or r.get("PrefixListIds")
                                             or r.get("UserIdGroupPairs")) for r in rules):
            continue
        bad += 1
        yield ctx.finding(
            "worker_egress_443", f"{service}:{'+'.join(sgs)}", sgs=", ".join(sgs), service=service, sg=sgs[0],
            signals=ctx.meta.kinds["worker_egress_443"].signals,
            evidence={"service": service, "worker_security_groups": sgs}, resources=[*sgs, service])
    return bad


def _service_sgs(net: WorkerNetwork) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for sg, services in net.sgs.items():
        for s in services:
            out.setdefault(s, []).append(sg)
    return out


def _first_sg(net: WorkerNetwork, services: list[str]) -> str:
    for sg, users in net.sgs.items():
        if set(users) & set(services):
            return sg
    return "<worker SG>"
