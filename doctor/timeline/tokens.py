"""Resource tokens: the typed names a change and a root cause are matched on (``sg:sg-0abc``,
``param:/app/DB_HOST``, ``service:app-image``, ``taskdef:app-image``, ``role:ecs-execution``,
``db-cluster:aurora``, ``cache:redis``, ``nacl:acl-1``, ``function:scaler``, ``rule:scaler-tick``).

One name, one spelling: ARNs, ``family:revision`` and endpoint host names are reduced to the identifier
the API calls use, so a CloudTrail request parameter and a finding's evidence meet on the same token.
"""

from __future__ import annotations

import re

KINDS = ("sg", "param", "service", "taskdef", "role", "db-cluster", "cache", "nacl", "function", "rule")
NOUNS = {"sg": "SG", "param": "SSM parameter", "service": "ECS service", "taskdef": "task definition",
         "role": "IAM role", "db-cluster": "Aurora cluster", "cache": "Redis replication group", "nacl": "network ACL",
         "function": "Lambda function", "rule": "EventBridge rule"}

SG_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")
NACL_ID = re.compile(r"^acl-[0-9a-f]{8,17}$")
_RDS_CLUSTER_HOST = re.compile(r"^([a-z][a-z0-9-]*)\.(?:cluster-|cluster-ro-|cluster-custom-)[a-z0-9]+\.[a-z0-9-]+"
                               r"\.rds\.amazonaws\.com$")
_CACHE_HOST = re.compile(r"^(?:(?:master|replica|clustercfg)\.)?([a-z][a-z0-9-]*?)(?:-\d{3})?\.[a-z0-9]+\."
                         r"(?:ng\.\d{4}\.|\d{4}\.)?[a-z0-9-]+\.cache\.amazonaws\.com$")


def token(kind: str, name: str) -> str:
    assert kind in KINDS, kind
    return f"{kind}:{name}"


def split(tok: str) -> tuple[str, str]:
    kind, _, name = tok.partition(":")
    return kind, name


def describe(tok: str) -> str:
    """``SG sg-0abc``, ``SSM parameter /app/DB_HOST``: how a token reads in a sentence."""
    kind, name = split(tok)
    return f"{NOUNS.get(kind, kind)} {name}"


def arn_name(value: str) -> str:
    """The last path segment of an ARN (``...:service/cluster/name`` -> ``name``), else the value."""
    if not value.startswith("arn:"):
        return value
    resource = value.split(":", 5)[-1]
    return resource.rsplit("/", 1)[-1]


def parameter_name(value: str) -> str:
    """An SSM parameter ARN or name as the name (``arn:...:parameter/app/X`` -> ``/app/X``)."""
    if value.startswith("arn:") and ":parameter" in value:
        tail = value.split(":parameter", 1)[1]
        return tail if tail.startswith("/") else "/" + tail
    return value


def family(value: str) -> str:
    """A task definition ARN or ``family:revision`` as the family."""
    return arn_name(value).split(":", 1)[0]


def role_name(value: str) -> str:
    """``arn:aws:iam::1:role/path/name`` or ``arn:aws:sts::1:assumed-role/name/session`` -> ``name``."""
    if value.startswith("arn:") and ":assumed-role/" in value:
        return value.split(":assumed-role/", 1)[1].split("/", 1)[0]
    return arn_name(value)


def host_tokens(host: str) -> list[str]:
    """The data store an endpoint host name belongs to: an Aurora cluster or an ElastiCache group."""
    h = host.strip().rstrip(".").lower().split(":", 1)[0]
    m = _RDS_CLUSTER_HOST.match(h)
    if m:
        return [token("db-cluster", m.group(1))]
    m = _CACHE_HOST.match(h)
    if m:
        return [token("cache", m.group(1))]
    return []


def arn_token(value: str) -> str | None:
    """The token of a resource ARN this timeline matches on (a role, function, rule, service, revision,
    parameter or security group), else None."""
    parts = value.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    service, resource = parts[2], parts[5]
    kinds = {("iam", "role/"): "role", ("sts", "assumed-role/"): "role", ("lambda", "function:"): "function",
             ("events", "rule/"): "rule", ("ecs", "service/"): "service", ("ecs", "task-definition/"): "taskdef",
             ("ssm", "parameter/"): "param", ("ec2", "security-group/"): "sg"}
    for (svc, prefix), kind in kinds.items():
        if service == svc and resource.startswith(prefix):
            if kind == "function":  # function:NAME[:version or alias]
                return token(kind, resource.split(":")[1])
            return token(kind, {"role": role_name, "taskdef": family, "param": parameter_name}.get(kind, arn_name)(value))
    return None
