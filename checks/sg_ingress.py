"""sg.ingress — the Redis and Aurora security groups admit the CURRENT worker SG on their ports.

The fix grants the port from the current worker SG; a stale rule (another SG, addresses outside the worker
subnets) is suggested for removal only when nothing uses its source today: no worker service runs with that
SG and no network interface (task, instance, function) carries it or an address in that CIDR. A source in
use is kept and its users are named; when the interfaces cannot be listed, the fix shows how to list them
instead of suggesting the removal.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from doctor.aws import denied_action
from doctor.checkapi import CheckContext, check, load_meta
from doctor.facts.cidr import covers, overlaps, rule_covers_port
from doctor.facts.datastores import DataStore, db_host_store, live_aurora_stores, redis_store, store_via_chain
from doctor.facts.network import WorkerNetwork, vpc_cidrs, worker_network
from doctor.facts.security_groups import prefix_list_cidrs, security_groups
from doctor.model import Finding

META = load_meta(__file__)

LABEL = {"redis": "Redis", "aurora": "Aurora"}
MAX_INTERFACE_PAGES = 10  # DescribeNetworkInterfaces pages per VPC (1000 each): more is "could not list them all"
MAX_NAMED_USERS = 6       # users named in a fix; the rest are counted


@dataclass
class Grant:
    """What the data-store SGs allow on the port, from the point of view of one service."""

    via_sg: list[str] = field(default_factory=list)        # "sg-data <- sg-worker"
    other_sgs: list[str] = field(default_factory=list)     # SGs referenced that are not this service's
    cidrs: list[str] = field(default_factory=list)         # every CIDR granted on the port
    covered: set[str] = field(default_factory=set)         # worker subnets covered by some CIDR
    outside: list[str] = field(default_factory=list)       # CIDRs outside every worker subnet
    rules: list[dict[str, Any]] = field(default_factory=list)
    worker_other_ports: list[str] = field(default_factory=list)
    # the rule admitting each other SG / outside CIDR on the port: (data SG, protocol, from port, to port)
    source_rules: dict[str, list[tuple[str, str, int | None, int | None]]] = field(default_factory=dict)
    unresolved_prefix_lists: list[str] = field(default_factory=list)


def _port_text(rule: dict[str, Any]) -> str:
    if str(rule.get("IpProtocol")) == "-1":
        return "all traffic"
    lo, hi = rule.get("FromPort"), rule.get("ToPort")
    return f"{rule.get('IpProtocol')} {lo}" if lo == hi else f"{rule.get('IpProtocol')} {lo}-{hi}"


def evaluate(ctx: CheckContext, groups: dict[str, dict[str, Any]], port: int, service_sgs: set[str],
             subnets: dict[str, str]) -> Grant:
    """Evaluate ingress on ``port`` of ``groups`` for a service with ``service_sgs`` in ``subnets`` (id->cidr)."""
    g = Grant()
    for gid, group in groups.items():
        for rule in group.get("IpPermissions", []):
            pairs = [p.get("GroupId") for p in rule.get("UserIdGroupPairs", []) if p.get("GroupId")]
            if not rule_covers_port(rule, port):
                g.worker_other_ports.extend(f"{gid} <- {p} ({_port_text(rule)})" for p in pairs if p in service_sgs)
                continue
            cidrs = [r["CidrIp"] for r in rule.get("IpRanges", []) if r.get("CidrIp")]
            cidrs += [r["CidrIpv6"] for r in rule.get("Ipv6Ranges", []) if r.get("CidrIpv6")]
            for pl in rule.get("PrefixListIds", []):
                entries = ctx.attempt(f"prefix list {pl.get('PrefixListId')}",
                                  functools.partial(prefix_list_cidrs, ctx.facts, pl["PrefixListId"]))
                if entries is None:
                    g.unresolved_prefix_lists.append(pl["PrefixListId"])
                cidrs += entries or []
            g.rules.append({"group": gid, "ports": _port_text(rule), "source_groups": pairs, "cidrs": cidrs,
                            "prefix_lists": [p.get("PrefixListId") for p in rule.get("PrefixListIds", [])]})
            where = (gid, str(rule.get("IpProtocol")), rule.get("FromPort"), rule.get("ToPort"))
            for p in pairs:
                (g.via_sg if p in service_sgs else g.other_sgs).append(f"{gid} <- {p}" if p in service_sgs else p)
                if p not in service_sgs:
                    g.source_rules.setdefault(p, []).append(where)
            for cidr in cidrs:
                g.cidrs.append(cidr)
                hit = {sid for sid, sc in subnets.items() if covers(cidr, sc)}
                g.covered |= hit
                if not hit and not any(overlaps(cidr, sc) for sc in subnets.values()):
                    g.outside.append(cidr)
                    g.source_rules.setdefault(cidr, []).append(where)
    return g


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    net = worker_network(ctx.facts)
    if not net.sgs:
        ctx.unknown("no worker service has an awsvpc networkConfiguration (services missing or not Fargate)",
                           unlock="ecs:DescribeServices")
        return
    facts = ctx.facts
    if not (ctx.config.redis.host and (ctx.config.database.host or ctx.config.database.cluster)):
        ctx.attempt("SSM values", facts.ssm_values)  # names ssm:GetParametersByPath when denied
    redis_host = facts.redis_target().host
    db = facts.db_target()
    cluster = ctx.config.database.cluster

    stores: list[tuple[str, DataStore]] = []
    if not redis_host:
        ctx.unknown("REDIS_HOST is not set (SSM or [redis] host)", unlock="[redis] host")
    else:
        rs = ctx.attempt("ElastiCache lookup", lambda: store_via_chain(facts, redis_host,
                                                                         lambda h: redis_store(facts, h)))
        if rs is not None:
            stores.append(("redis", rs))
        elif ctx.unknown_reason is None or "ElastiCache" not in ctx.unknown_reason:
            ctx.unknown(f"REDIS_HOST {redis_host} matches no ElastiCache endpoint (dns.resolve says why)",
                             unlock="[redis] host")
    if not db.host and not cluster:
        ctx.unknown("DB_HOST is not set (SSM or [database] host/cluster)", unlock="[database] cluster")
    else:
        ds = ctx.attempt("Aurora lookup", lambda: db_host_store(facts, db.host, cluster))
        if ds is not None and ds.live:
            stores.append(("aurora", ds))
        elif ctx.unknown_reason is None or "Aurora" not in ctx.unknown_reason:
            # DB_HOST names no live cluster: judge the account's live cluster(s), and say DB_HOST is not theirs
            live = ctx.attempt("Aurora clusters", lambda: live_aurora_stores(facts, cluster)) or []
            if live:
                yield _db_host_elsewhere(ctx, str(db.host or cluster), live, ds)
                stores += [("aurora", s) for s in live]
            elif ctx.unknown_reason is None or "Aurora" not in ctx.unknown_reason:
                ctx.unknown(f"{'cluster ' + cluster if cluster else 'DB_HOST ' + str(db.host)} matches no live "
                            "Aurora cluster and the account has none (dns.resolve says why)",
                            unlock="[database] cluster")

    for label, store in stores:
        if not store.sgs:
            ctx.unknown(f"no security groups found for {LABEL[label]} {store.id}",
                             unlock="elasticache:DescribeCacheClusters" if label == "redis" else "rds:DescribeDBClusters")
            continue
        groups = security_groups(facts, store.sgs)
        yield from _ingress(ctx, net, label, store, groups)
        yield from _egress(ctx, net, label, store)


def _db_host_elsewhere(ctx: CheckContext, host: str, live: list[DataStore], named: DataStore | None) -> Finding:
    """DB_HOST is not an endpoint of the live cluster(s) whose ingress is judged instead."""
    ids = ", ".join(s.id for s in live)
    return ctx.finding(
        "aurora_db_host_elsewhere", host,
        evidence={"db_host": host, "evaluated_clusters": [s.id for s in live],
                  "writer_endpoints": {s.id: s.writer_endpoint for s in live},
                  "named_cluster": {"id": named.id, "status": named.status} if named is not None else None},
        resources=[host, *(s.id for s in live)], variant="dead_cluster" if named is not None else None,
        host=host, clusters=ids, writers=", ".join(s.writer_endpoint for s in live),
        named=named.id if named is not None else "", status=named.status if named is not None else "")


def _ingress(ctx: CheckContext, net: WorkerNetwork, label: str, store: DataStore,
             groups: dict[str, dict[str, Any]]) -> Iterator[Finding]:
    port = store.port
    data_sgs = ", ".join(store.sgs)
    ok_services: dict[str, list[str]] = {}
    bad: dict[str, tuple[Grant, list[str], list[str]]] = {}
    for service, svc_sgs in _service_sgs(net).items():
        svc_subnets = {sid: s.cidr for sid, s in net.subnets.items() if service in net.subnet_services.get(sid, [])}
        g = evaluate(ctx, groups, port, set(svc_sgs), svc_subnets)
        if g.via_sg:
            ok_services[service] = g.via_sg
        elif svc_subnets and set(svc_subnets) <= g.covered:
            ok_services[service] = [c for c in g.cidrs if any(covers(c, sc) for sc in svc_subnets.values())]
        else:
            bad[service] = (g, svc_sgs, sorted(set(svc_subnets) - g.covered))
    base_ev: dict[str, Any] = {"store": store.id, "kind": label, "port": port, "port_source": "AWS",
                               "data_security_groups": store.sgs, "sg_source": store.sg_source,
                               "matched_endpoint": store.matched_endpoint, "matched_by": store.role}
    if not bad:
        yield ctx.finding(f"{label}_ok", store.id, evidence={**base_ev, "granted_by": ok_services},
                          data_sgs=data_sgs, port=port)
        return
    # one finding per distinct situation (services sharing a worker SG share a finding)
    by_sg: dict[tuple[str, ...], list[str]] = {}
    for service, (_, svc_sgs, _) in bad.items():
        by_sg.setdefault(tuple(svc_sgs), []).append(service)
    for sgs_key, services in by_sg.items():
        g, svc_sgs, uncovered = bad[services[0]]
        worker = svc_sgs[0] if svc_sgs else "<worker SG>"
        grant = "; ".join(ctx.text("authorize", group=d, port=port, source=worker) for d in store.sgs)
        ev = {**base_ev, "services": services, "worker_security_groups": list(svc_sgs),
              "rules_on_port": g.rules, "uncovered_subnets": uncovered}
        if g.worker_other_ports:
            ev["worker_sg_rules_on_other_ports"] = g.worker_other_ports
        if g.unresolved_prefix_lists:
            ev["unresolved_prefix_lists"] = g.unresolved_prefix_lists
        resources = [*store.sgs, *svc_sgs, *services]
        rid = f"{store.id}:{'+'.join(sgs_key)}"
        text: dict[str, Any] = {"data_sgs": data_sgs, "port": port, "who": ", ".join(services),
                                "worker_sgs": ", ".join(svc_sgs), "grant": grant,
                                "uncovered": ", ".join(uncovered) or "other subnets"}
        if g.other_sgs:
            others = sorted(set(g.other_sgs))
            ev["referenced_security_groups"] = others
            cleanup, ev["source_users"] = _cleanup(ctx, net, groups, g, others)
            yield ctx.finding(f"{label}_old_sg", rid, evidence=ev, resources=resources,
                              signals=["sg.old_sg_reference"], **text,
                              other_sgs=", ".join(others), worker=worker, cleanup=cleanup)
        elif g.outside and not g.covered:
            narrow = any(_narrow(c) for c in g.outside)
            cleanup, users = _cleanup(ctx, net, groups, g, list(dict.fromkeys(g.outside)))
            yield ctx.finding(f"{label}_old_ips", rid, evidence={**ev, "outside_cidrs": g.outside,
                                                                  "source_users": users},
                              resources=resources, signals=["sg.old_ip_rules_only"] if narrow else [],
                              **text, outside=", ".join(g.outside), cleanup=cleanup)
        elif g.covered:
            yield ctx.finding(f"{label}_partial", rid, evidence=ev, resources=resources, **text)
        else:
            yield ctx.finding(f"{label}_no_rule", rid, evidence=ev, resources=resources, **text,
                              variant="other_ports" if g.worker_other_ports else None,
                              other_ports="; ".join(g.worker_other_ports))


# --- what uses a stale rule's source today ------------------------------------------------------------------
@dataclass
class Users:
    """What uses a rule's source (an SG, a CIDR) today. ``unreadable``: why the interfaces could not be listed."""

    services: list[str] = field(default_factory=list)    # worker services configured with the SG
    interfaces: list[str] = field(default_factory=list)  # "task <service>/<id>", "instance i-...", "eni-... (...)"
    unreadable: str | None = None

    @property
    def names(self) -> list[str]:
        return [*self.services, *self.interfaces]

    def evidence(self) -> dict[str, Any]:
        return {"services": self.services, "interfaces": self.interfaces,
                **({"unreadable": self.unreadable} if self.unreadable else {})}


def _interfaces(ctx: CheckContext, vpcs: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every network interface of ``vpcs`` (bounded: more than MAX_INTERFACE_PAGES pages raises)."""
    def fetch() -> list[dict[str, Any]]:
        ec2 = ctx.facts.aws.client("ec2")
        out: list[dict[str, Any]] = []
        pages = ec2.get_paginator("describe_network_interfaces").paginate(
            Filters=[{"Name": "vpc-id", "Values": list(vpcs)}], PaginationConfig={"PageSize": 1000})
        for n, page in enumerate(pages):
            if n == MAX_INTERFACE_PAGES:
                raise OverflowError(f"more than {MAX_INTERFACE_PAGES * 1000} network interfaces")
            out.extend(page.get("NetworkInterfaces", []))
        return out

    return ctx.facts.memo(("sg.ingress.interfaces", vpcs), fetch)


def _task_interfaces(ctx: CheckContext, net: WorkerNetwork) -> dict[str, str]:
    """ENI id -> "task <service>/<task id>" for the running tasks of every worker service."""
    out: dict[str, str] = {}
    for service in sorted({s for services in net.sgs.values() for s in services}):
        try:
            tasks = ctx.facts.tasks(service)
        except Exception:
            continue  # the interface is still listed, by its own description
        for t in tasks:
            for a in t.get("attachments", []) or []:
                eni = next((d.get("value") for d in a.get("details", []) or [] if d.get("name") == "networkInterfaceId"),
                           None)
                if eni:
                    out[eni] = f"task {service}/{str(t.get('taskArn', '')).rsplit('/', 1)[-1]}"
    return out


def _label(eni: dict[str, Any], tasks: dict[str, str]) -> str:
    eid = str(eni.get("NetworkInterfaceId"))
    if eid in tasks:
        return tasks[eid]
    instance = (eni.get("Attachment") or {}).get("InstanceId")
    if instance:
        return f"instance {instance}"
    what = eni.get("Description") or eni.get("InterfaceType") or "network interface"
    return f"{eid} ({what}, {eni.get('PrivateIpAddress', '?')})"


def _users(ctx: CheckContext, net: WorkerNetwork, vpcs: tuple[str, ...], source: str) -> Users:
    """The worker services and network interfaces using ``source`` (an SG id, else a CIDR) today."""
    is_sg = source.startswith("sg-")
    users = Users(services=sorted(net.sgs.get(source, [])) if is_sg else [])
    try:
        enis = _interfaces(ctx, vpcs)
    except Exception as e:
        action = denied_action(e)
        users.unreadable = f"{action} denied" if action else f"{type(e).__name__}: {e}"
        return users
    tasks = _task_interfaces(ctx, net)
    for eni in enis:
        if is_sg:
            used = any(grp.get("GroupId") == source for grp in eni.get("Groups", []) or [])
        else:
            addresses = [a.get("PrivateIpAddress") for a in eni.get("PrivateIpAddresses", []) or []]
            used = any(covers(f"{a}/32", source) for a in addresses or [eni.get("PrivateIpAddress")] if a)
        if used:
            users.interfaces.append(_label(eni, tasks))
    users.interfaces.sort()
    return users


def _permission(protocol: str, lo: int | None, hi: int | None, source: str) -> str:
    """The CLI arguments naming one rule's permission for ``source`` (an SG, an IPv4 or an IPv6 CIDR)."""
    if ":" in source:  # IPv6: only --ip-permissions can name it
        ports = "" if protocol == "-1" else f",FromPort={lo},ToPort={hi}"
        return f"--ip-permissions 'IpProtocol={protocol}{ports},Ipv6Ranges=[{{CidrIpv6={source}}}]'"
    ports = "--protocol all" if protocol == "-1" else f"--protocol {protocol} --port {lo}" + (
        f"-{hi}" if hi != lo else "")
    return f"{ports} {'--source-group' if source.startswith('sg-') else '--cidr'} {source}"


def _cleanup(ctx: CheckContext, net: WorkerNetwork, groups: dict[str, dict[str, Any]], g: Grant,
             sources: list[str]) -> tuple[str, dict[str, Any]]:
    """After the grant: per stale source, the revoke command when nothing uses it, else the users to keep it for
    (or, when the interfaces cannot be listed, how to list them). Returns (fix text, evidence)."""
    vpcs = tuple(sorted({str(grp.get("VpcId")) for grp in groups.values() if grp.get("VpcId")} | set(net.vpcs)))
    steps: list[str] = []
    evidence: dict[str, Any] = {}
    for source in sources:
        users = _users(ctx, net, vpcs, source)
        evidence[source] = users.evidence()
        if users.names:
            named = users.names[:MAX_NAMED_USERS]
            more = len(users.names) - len(named)
            steps.append(ctx.text("keep_used_source", source=source, users=", ".join(named) +
                                  (f" and {more} more" if more else "")))
        elif users.unreadable:
            steps.append(ctx.text("list_source_users", source=source, why=users.unreadable,
                                  filter=f"Name=group-id,Values={source}" if source.startswith("sg-")
                                  else f"Name=vpc-id,Values={','.join(vpcs)}"))
        else:
            for group, protocol, lo, hi in dict.fromkeys(g.source_rules.get(source, [])):
                steps.append(ctx.text("revoke_unused_source", group=group, source=source,
                                      permission=_permission(protocol, lo, hi, source)))
    return "".join(f"; then {s}" if i == 0 else f"; {s}" for i, s in enumerate(steps)), evidence


def _egress(ctx: CheckContext, net: WorkerNetwork, label: str, store: DataStore) -> Iterator[Finding]:
    port = store.port
    all_worker = sorted({sg for sgs in _service_sgs(net).values() for sg in sgs})
    groups = security_groups(ctx.facts, all_worker)
    vpc_nets: list[str] = []
    for vpc in net.vpcs:
        vpc_nets += ctx.attempt(f"VPC {vpc}", functools.partial(vpc_cidrs, ctx.facts, vpc)) or []
    for service, svc_sgs in _service_sgs(net).items():
        allowed = False
        for gid in svc_sgs:
            for rule in (groups.get(gid) or {}).get("IpPermissionsEgress", []):
                if not rule_covers_port(rule, port):
                    continue
                if any(p.get("GroupId") in store.sgs for p in rule.get("UserIdGroupPairs", [])):
                    allowed = True
                cidrs = [r["CidrIp"] for r in rule.get("IpRanges", []) if r.get("CidrIp")]
                cidrs += [r["CidrIpv6"] for r in rule.get("Ipv6Ranges", []) if r.get("CidrIpv6")]
                if any(not vpc_nets or any(overlaps(c, v) for v in vpc_nets) for c in cidrs):
                    allowed = True
                if rule.get("PrefixListIds"):
                    allowed = True  # not resolved further: prefix lists for data stores are rare
        if not allowed:
            yield ctx.finding(
                f"egress_{label}", f"{service}:{'+'.join(svc_sgs)}",
                evidence={"service": service, "worker_security_groups": svc_sgs, "port": port, "store": store.id,
                          "data_security_groups": store.sgs, "vpc_cidrs": vpc_nets},
                resources=[*svc_sgs, service], worker_sgs=", ".join(svc_sgs), service=service, port=port,
                worker_sg=svc_sgs[0], data_sg=store.sgs[0])


def _service_sgs(net: WorkerNetwork) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for sg, services in net.sgs.items():
        for s in services:
            out.setdefault(s, []).append(sg)
    return out


def _narrow(cidr: str) -> bool:
    try:
        n = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    return n.prefixlen >= (n.max_prefixlen - 4)
