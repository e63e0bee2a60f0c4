"""net.egress — the worker subnets can reach the AWS APIs a Fargate worker needs (NAT or VPC endpoints)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from typing import Any

from doctor.checkapi import CheckContext, CheckMeta, check
from doctor.model import Finding
from doctor.netinfo import (
    Path,
    WorkerNetwork,
    covers,
    path_to_service,
    region,
    rule_covers_port,
    security_groups,
    vpc_endpoints,
    vpc_info,
    worker_network,
)

META = CheckMeta(
    id="net.egress",
    title="Worker subnets reach S3, ECR, CloudWatch Logs, SSM and ssmmessages",
    order=11,
    proves="For every worker subnet (its explicit route table, else the VPC main table) there is a NAT route or a "
    "VPC endpoint for S3, ECR api + dkr, Logs, SSM and ssmmessages; interface endpoints have private DNS and "
    "SGs admitting 443 from the worker SG; the worker SG allows 443 out; the VPC has DNS support and hostnames.",
    why="Fargate pulls the image (ECR api, dkr, and S3 for the layers), fetches SSM secrets and ships logs "
    "before the app starts: without a path the task never reaches RUNNING (CannotPullContainerError, "
    "ResourceInitializationError). ECS Exec needs ssmmessages.",
    remediation="Add a NAT route (0.0.0.0/0 -> nat-...) to the worker route table, or create the missing "
    "interface endpoints with private DNS and an SG allowing 443 from the worker SG.",
    iam_actions=("ecs:DescribeServices", "ec2:DescribeSubnets", "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints",
                 "ec2:DescribeVpcs", "ec2:DescribeVpcAttribute", "ec2:DescribeSecurityGroups"),
    needs=("aws",),
)

FLAG = {"EnableDnsSupport": "enable-dns-support", "EnableDnsHostnames": "enable-dns-hostnames"}
SERVICES = ("s3", "ecr.api", "ecr.dkr", "logs", "ssm", "ssmmessages")
SIGNAL = {"s3": "net.no_path_s3", "ecr.api": "net.no_path_ecr", "ecr.dkr": "net.no_path_ecr",
          "logs": "net.no_path_logs", "ssm": "net.no_path_ssm", "ssmmessages": "net.no_path_ssmmessages"}
WHY = {"s3": "ECR image layers and the media bucket are in S3",
       "ecr.api": "the image manifest cannot be fetched (CannotPullContainerError)",
       "ecr.dkr": "the image cannot be pulled (CannotPullContainerError)",
       "logs": "the awslogs driver cannot create the stream (task fails to start)",
       "ssm": "task secrets from SSM cannot be fetched (ResourceInitializationError)",
       "ssmmessages": "ECS Exec sessions cannot open"}


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
            yield ctx.legacy_finding(
                "vpc_dns_disabled", vpc, "error", f"VPC {vpc} has {' and '.join(off)} off",
                detail="Without DNS support tasks cannot resolve AWS endpoints or REDIS_HOST/DB_HOST; without DNS "
                "hostnames interface endpoints' private DNS does not work.",
                evidence={"vpc": vpc, "EnableDnsSupport": info.get("EnableDnsSupport"),
                          "EnableDnsHostnames": info.get("EnableDnsHostnames")},
                signals=["net.vpc_dns_disabled"],
                remediation="; ".join(f"aws ec2 modify-vpc-attribute --vpc-id {vpc} --{FLAG[k]}" for k in off))

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
        yield ctx.legacy_finding("ok", "+".join(net.vpcs), "info",
                          "Every worker subnet reaches S3, ECR, Logs, SSM and ssmmessages",
                          evidence={"paths": summary, "subnets": sorted(net.subnets)}, signals=["net.ok"],
                          remediation="")


def _no_path(ctx: CheckContext, net: WorkerNetwork, svc: str, missing: list[Path]) -> Finding:
    sids = sorted({p.subnet for p in missing})
    tables = sorted({p.route_table or "?" for p in missing})
    services = sorted({s for sid in sids for s in net.subnet_services.get(sid, [])})
    vpc = net.subnets[sids[0]].vpc_id
    name = f"com.amazonaws.{region(ctx.facts)}.{svc}"
    blocked = [p for p in missing if p.kind == "interface-endpoint"]
    if blocked:
        fix = (f"Allow 443 from the worker SG on the SG of {blocked[0].via}: aws ec2 authorize-security-group-ingress "
               f"--group-id <endpoint SG> --protocol tcp --port 443 --source-group "
               f"{_first_sg(net, services)}")
    elif svc == "s3":
        fix = (f"aws ec2 create-vpc-endpoint --vpc-id {vpc} --vpc-endpoint-type Gateway --service-name {name} "
               f"--route-table-ids {' '.join(tables)} (or a NAT route in {', '.join(tables)})")
    else:
        fix = (f"aws ec2 create-vpc-endpoint --vpc-id {vpc} --vpc-endpoint-type Interface --service-name {name} "
               f"--subnet-ids {' '.join(sids)} --security-group-ids <SG allowing 443 from "
               f"{_first_sg(net, services)}> --private-dns-enabled (or add a NAT route to {', '.join(tables)})")
    signals = [SIGNAL[svc]] + (["net.endpoint_sg_blocked"] if blocked else [])
    return ctx.legacy_finding(
        f"no_path_{svc.replace('.', '_')}", svc, "error",
        f"No path from worker subnet(s) {', '.join(sids)} to {svc}",
        detail=f"{WHY[svc]}. " + "; ".join(sorted({p.note for p in missing if p.note})),
        evidence={"service": svc, "endpoint_service": name, "subnets": [p.evidence() for p in missing],
                  "route_tables": tables, "services": services},
        resources=[*sids, *tables, *services], signals=signals, remediation=fix)


def _private_dns_off(ctx: CheckContext, net: WorkerNetwork, svc: str, paths: dict[str, Path]) -> Iterator[Finding]:
    name = f"com.amazonaws.{region(ctx.facts)}.{svc}"
    for vpc in net.vpcs:
        for e in vpc_endpoints(ctx.facts, vpc):
            if e.get("ServiceName") == name and e.get("VpcEndpointType") == "Interface" and not e.get(
                    "PrivateDnsEnabled") and svc != "s3":
                used_nat = sorted(sid for sid, p in paths.items() if p.kind in ("nat", "igw", "other"))
                yield ctx.legacy_finding(
                    "private_dns_disabled", e["VpcEndpointId"], "warning",
                    f"Interface endpoint {e['VpcEndpointId']} for {svc} has private DNS disabled",
                    detail="The default service host name does not resolve to the endpoint, so tasks "
                    + ("go through the NAT instead" if used_nat else "cannot use it"),
                    evidence={"endpoint": e["VpcEndpointId"], "service": name, "subnets_via_nat": used_nat},
                    signals=["net.endpoint_private_dns_disabled"],
                    remediation=f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {e['VpcEndpointId']} "
                    "--private-dns-enabled")


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
        yield ctx.legacy_finding(
            "worker_egress_443", f"{service}:{'+'.join(sgs)}", "error",
            f"Worker SG(s) {', '.join(sgs)} of {service} do not allow outbound HTTPS (443)",
            detail="Every AWS API call from the task (ECR, S3, Logs, SSM, ssmmessages) is dropped.",
            evidence={"service": service, "worker_security_groups": sgs},
            resources=[*sgs, service],
            signals=["net.worker_egress_blocked", *sorted(set(SIGNAL.values()))],
            remediation=f"aws ec2 authorize-security-group-egress --group-id {sgs[0]} --ip-permissions "
            "'IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=0.0.0.0/0}]'")
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
