"""What each worker service is made of, as resource tokens: its task definition family, execution and task
roles, security groups, the network ACLs of its subnets, and where it logs. A root cause about a service
is about these too (a new revision, a role that lost a policy, a NACL entry on its subnets)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from doctor.facts import Facts
from doctor.timeline.tokens import family, role_name, token


@dataclass
class ServiceContext:
    name: str
    taskdef: str | None = None                          # family
    roles: list[str] = field(default_factory=list)      # execution role, task role
    security_groups: list[str] = field(default_factory=list)
    subnets: list[str] = field(default_factory=list)
    nacls: list[str] = field(default_factory=list)
    log_group: str | None = None
    stream_prefix: str | None = None                    # "<awslogs-stream-prefix>/<container>/"
    essential: set[str] = field(default_factory=set)    # essential container names

    def startup_tokens(self) -> list[str]:
        """What a task needs to start: its revision and its roles."""
        out = [token("service", self.name)]
        if self.taskdef:
            out.append(token("taskdef", self.taskdef))
        return out + [token("role", r) for r in self.roles]

    def network_tokens(self) -> list[str]:
        """What its packets cross: its security groups and its subnets' network ACLs."""
        return ([token("service", self.name)] + [token("sg", g) for g in self.security_groups]
                + [token("nacl", a) for a in self.nacls])


def service_contexts(facts: Facts) -> dict[str, ServiceContext]:
    """Every configured service that exists; parts that cannot be read are left empty."""
    out: dict[str, ServiceContext] = {}
    for name, svc in facts.services().items():
        if svc is None:
            continue
        ctx = out[name] = ServiceContext(name)
        vpc = (svc.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
        ctx.security_groups = list(vpc.get("securityGroups") or [])
        ctx.subnets = list(vpc.get("subnets") or [])
        td: dict[str, Any] | None = None
        with contextlib.suppress(Exception):  # describe_task_definition denied: no revision, roles or logs
            td = facts.service_task_definition(name)
        if td is None:
            continue
        ctx.taskdef = family(str(td.get("taskDefinitionArn") or td.get("family") or "")) or None
        ctx.roles = [role_name(str(td[k])) for k in ("executionRoleArn", "taskRoleArn") if td.get(k)]
        ctx.essential = {c["name"] for c in td.get("containerDefinitions", []) if c.get("essential", True)}
        container = facts.container_name(td)
        for c in td.get("containerDefinitions", []):
            if container and c.get("name") != container:
                continue
            lc = c.get("logConfiguration") or {}
            opts = lc.get("options") or {}
            if lc.get("logDriver") == "awslogs" and opts.get("awslogs-group"):
                ctx.log_group = str(opts["awslogs-group"])
                prefix = opts.get("awslogs-stream-prefix")
                ctx.stream_prefix = f"{prefix}/{c.get('name')}/" if prefix else None
            break
    _add_nacls(facts, out)
    return out


def scaler_tokens(facts: Facts) -> list[str]:
    """The burst/drain controller ([scaler]): its Lambda function, its trigger rule and the function's role (a
    queue cause is about these too: a role that lost ecs:UpdateService, a disabled rule)."""
    cfg = facts.config.scaler
    out = [token("function", cfg.function)] if cfg.kind == "lambda" and cfg.function else []
    out += [token("rule", cfg.rule)] if cfg.rule else []
    if out and cfg.function:
        with contextlib.suppress(Exception):  # lambda:GetFunctionConfiguration denied: the role is left out
            role = facts.aws.client("lambda").get_function_configuration(FunctionName=cfg.function).get("Role")
            if role:
                out.append(token("role", role_name(str(role))))
    return out


def _add_nacls(facts: Facts, contexts: dict[str, ServiceContext]) -> None:
    subnets = sorted({s for c in contexts.values() for s in c.subnets})
    if not subnets:
        return
    try:
        acls = facts.aws.client("ec2").describe_network_acls(
            Filters=[{"Name": "association.subnet-id", "Values": subnets}]).get("NetworkAcls", [])
    except Exception:  # ec2:DescribeNetworkAcls denied: NACL changes are then matched to nothing
        return
    by_subnet = {a.get("SubnetId"): acl["NetworkAclId"] for acl in acls for a in acl.get("Associations", [])}
    for ctx in contexts.values():
        ctx.nacls = sorted({by_subnet[s] for s in ctx.subnets if s in by_subnet})
