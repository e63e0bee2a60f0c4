"""The CloudTrail write events that matter to this platform: which to look up, the resources each one
touches (from its request parameters, as CloudTrail records them) and how it reads in a sentence.

Request parameters are CloudTrail's: camelCase, and for EC2 lists wrapped as ``{"items": [...]}``.
IAM is a global service: its events are recorded in us-east-1 (``region = "us-east-1"``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from doctor.timeline.tokens import arn_name, family, parameter_name, role_name, token

Request = dict[str, Any]
GLOBAL_REGION = "us-east-1"


def items(value: Any) -> list[Any]:
    """A CloudTrail list: plain, or EC2's ``{"items": [...]}``; anything else is empty."""
    if isinstance(value, dict):
        value = value.get("items")
    return list(value) if isinstance(value, list) else []


def _ports(perm: dict[str, Any]) -> str:
    proto = str(perm.get("ipProtocol", "?"))
    if proto == "-1":
        return "all traffic"
    lo, hi = perm.get("fromPort"), perm.get("toPort")
    return f"{proto} {lo}" if lo == hi else f"{proto} {lo}-{hi}"


def _permissions(req: Request) -> str:
    parts = []
    for perm in items(req.get("ipPermissions")):
        sources = [str(r.get("cidrIp")) for r in items(perm.get("ipRanges"))]
        sources += [str(r.get("cidrIpv6")) for r in items(perm.get("ipv6Ranges"))]
        sources += [str(g.get("groupId")) for g in items(perm.get("groups"))]
        sources += [str(p.get("prefixListId")) for p in items(perm.get("prefixListIds"))]
        parts.append(f"{_ports(perm)} from {', '.join(sources) or '?'}")
    return "; ".join(parts)


def _sg_verb(action: str) -> Callable[[Request], str]:
    def verb(req: Request) -> str:
        perms = _permissions(req)
        if perms:
            return f"ingress rule {action} ({perms})"
        ids = items(req.get("securityGroupRuleIds"))
        n = len(ids)
        return f"ingress rule{'s' if n != 1 else ''} {action}" + (f" ({n} rule ids)" if n > 1 else "")
    return verb


def _put_parameter(req: Request) -> str:
    kind = f"{req['type']}, " if req.get("type") else ""
    return f"changed ({kind}new version)" if req.get("overwrite") else f"created ({kind.rstrip(', ') or 'new'})"


def _update_service(req: Request) -> str:
    parts = []
    if "desiredCount" in req:
        parts.append(f"desired count set to {req['desiredCount']}")
    if req.get("taskDefinition"):
        parts.append(f"deployed {arn_name(str(req['taskDefinition']))}")
    if req.get("forceNewDeployment"):
        parts.append("forced a new deployment")
    return "updated: " + ", ".join(parts) if parts else "updated"


def _register_taskdef(req: Request) -> str:
    images = [str(c.get("image")) for c in items(req.get("containerDefinitions")) if c.get("image")]
    return "new revision registered" + (f" (image {', '.join(images)})" if images else "")


def _modified(req: Request, ignore: tuple[str, ...]) -> str:
    keys = sorted(k for k in req if k not in ignore)
    return "modified" + (f" ({', '.join(keys)})" if keys else "")


def _nacl_verb(action: str) -> Callable[[Request], str]:
    def verb(req: Request) -> str:
        direction = "egress" if req.get("egress") else "ingress"
        what = " ".join(str(x) for x in (req.get("ruleAction"), _nacl_ports(req), req.get("cidrBlock")) if x)
        return f"{direction} entry {req.get('ruleNumber', '?')} {action}" + (f" ({what})" if what else "")
    return verb


def _nacl_ports(req: Request) -> str:
    rng = req.get("portRange") or {}
    proto = {"6": "tcp", "17": "udp", "-1": "all"}.get(str(req.get("aclProtocol", req.get("protocol", ""))), "")
    if rng.get("from") is not None:
        ports = str(rng["from"]) if rng.get("from") == rng.get("to") else f"{rng.get('from')}-{rng.get('to')}"
        return f"{proto} {ports}".strip()
    return proto


def _policy(action: str) -> Callable[[Request], str]:
    def verb(req: Request) -> str:
        name = req.get("policyName") or arn_name(str(req.get("policyArn", "")))
        return f"policy {name} {action}" if name else f"policy {action}"
    return verb


@dataclass(frozen=True)
class ChangeKind:
    """One CloudTrail event name: where it is recorded, what it touches, how it reads."""

    name: str
    source: str                                   # eventSource
    verb: Callable[[Request], str]
    tokens: Callable[[Request], list[str]]
    region: str | None = None                     # None: the target region; else where the service records it

    def describe(self, req: Request) -> str:
        try:
            return self.verb(req)
        except (TypeError, ValueError, AttributeError, KeyError):
            return "changed"


def _field(kind: str, *keys: str, norm: Callable[[str], str] = str) -> Callable[[Request], list[str]]:
    def tokens(req: Request) -> list[str]:
        out = []
        for key in keys:
            value = req.get(key)
            values = value if isinstance(value, list) else [value]
            out += [token(kind, norm(str(v))) for v in values if isinstance(v, str) and v]
        return out
    return tokens


def _both(*fns: Callable[[Request], list[str]]) -> Callable[[Request], list[str]]:
    return lambda req: [t for fn in fns for t in fn(req)]


def _constant(text: str) -> Callable[[Request], str]:
    return lambda _req: text


_PARAM = _field("param", "name", "names", norm=parameter_name)
_SG = _field("sg", "groupId")
_NACL = _field("nacl", "networkAclId")
_SERVICE = _both(_field("service", "service", "serviceName", norm=arn_name),
                 _field("taskdef", "taskDefinition", norm=family))
_DB = _field("db-cluster", "dBClusterIdentifier", norm=arn_name)
_CACHE = _field("cache", "replicationGroupId")
_FUNCTION = _field("function", "functionName", norm=arn_name)
_RULE = _field("rule", "name")
_ROLE = _field("role", "roleName", norm=role_name)

CATALOGUE: tuple[ChangeKind, ...] = (
    ChangeKind("PutParameter", "ssm.amazonaws.com", _put_parameter, _PARAM),
    ChangeKind("DeleteParameter", "ssm.amazonaws.com", _constant("deleted"), _PARAM),
    ChangeKind("LabelParameterVersion", "ssm.amazonaws.com",
               lambda r: f"version {r.get('parameterVersion', 'latest')} labelled {', '.join(items(r.get('labels')))}",
               _PARAM),
    ChangeKind("AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", _sg_verb("added"), _SG),
    ChangeKind("RevokeSecurityGroupIngress", "ec2.amazonaws.com", _sg_verb("revoked"), _SG),
    ChangeKind("ModifySecurityGroupRules", "ec2.amazonaws.com", _constant("rules modified"), _SG),
    ChangeKind("CreateNetworkAclEntry", "ec2.amazonaws.com", _nacl_verb("added"), _NACL),
    ChangeKind("ReplaceNetworkAclEntry", "ec2.amazonaws.com", _nacl_verb("replaced"), _NACL),
    ChangeKind("DeleteNetworkAclEntry", "ec2.amazonaws.com", _nacl_verb("deleted"), _NACL),
    ChangeKind("UpdateService", "ecs.amazonaws.com", _update_service, _SERVICE),
    ChangeKind("RegisterTaskDefinition", "ecs.amazonaws.com", _register_taskdef,
               _field("taskdef", "family", norm=family)),
    ChangeKind("CreateService", "ecs.amazonaws.com", _constant("created"), _SERVICE),
    ChangeKind("ModifyDBCluster", "rds.amazonaws.com", lambda r: _modified(r, ("dBClusterIdentifier",)), _DB),
    ChangeKind("FailoverDBCluster", "rds.amazonaws.com", _constant("failed over"), _DB),
    ChangeKind("DeleteDBCluster", "rds.amazonaws.com", _constant("deleted"), _DB),
    ChangeKind("ModifyReplicationGroup", "elasticache.amazonaws.com",
               lambda r: _modified(r, ("replicationGroupId",)), _CACHE),
    ChangeKind("TestFailover", "elasticache.amazonaws.com",
               lambda r: f"failover of node group {r.get('nodeGroupId', '?')} started", _CACHE),
    # Lambda records its API version in the event name
    ChangeKind("UpdateFunctionConfiguration20150331v2", "lambda.amazonaws.com",
               lambda r: _modified(r, ("functionName",)).replace("modified", "configuration updated"), _FUNCTION),
    ChangeKind("DisableRule", "events.amazonaws.com", _constant("disabled"), _RULE),
    ChangeKind("PutRule", "events.amazonaws.com",
               lambda r: "put" + (f" (state {r['state']})" if r.get("state") else ""), _RULE),
    ChangeKind("PutRolePolicy", "iam.amazonaws.com", _policy("put"), _ROLE, region=GLOBAL_REGION),
    ChangeKind("DeleteRolePolicy", "iam.amazonaws.com", _policy("deleted"), _ROLE, region=GLOBAL_REGION),
    ChangeKind("AttachRolePolicy", "iam.amazonaws.com", _policy("attached"), _ROLE, region=GLOBAL_REGION),
    ChangeKind("DetachRolePolicy", "iam.amazonaws.com", _policy("detached"), _ROLE, region=GLOBAL_REGION),
)
BY_NAME: dict[str, ChangeKind] = {k.name: k for k in CATALOGUE}
