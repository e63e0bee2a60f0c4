"""exec.ready — the ECS Exec prerequisites, so `--exec ecs-exec` (and on-call's own `aws ecs execute-command`) work."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

from doctor.aws import denied_action
from doctor.checkapi import CheckContext, check, load_meta
from doctor.facts.network import path_to_service, worker_network
from doctor.model import Finding

META = load_meta(__file__)

SSM_ACTIONS = ("ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
               "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel")
STATIC_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def _version(v: str | None) -> tuple[int, ...] | None:
    if not v or v.upper() == "LATEST":
        return None
    try:
        return tuple(int(p) for p in v.split("."))
    except ValueError:
        return None


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    cfg = ctx.config
    cluster = cfg.ecs.cluster
    needed = "ecs-exec" in (cfg.exec.transport, cfg.exec.fallback)
    sev = "error" if cfg.exec.transport == "ecs-exec" else "warning"
    services = ctx.facts.services()
    problems = 0

    if not shutil.which("session-manager-plugin"):
        problems += 1
        yield ctx.finding("plugin_missing", "session-manager-plugin", severity=None if needed else "info",
                          evidence={"transport": cfg.exec.transport, "fallback": cfg.exec.fallback})

    kms_key = _cluster_kms_key(ctx, cluster)
    roles: dict[str, list[str]] = {}
    for name, svc in services.items():
        if svc is None:
            ctx.unknown(f"service {name} not found in {cluster}")
            continue
        before = problems
        if not svc.get("enableExecuteCommand"):
            problems += 1
            yield ctx.finding("disabled", name, severity=sev, service=name, cluster=cluster,
                              evidence={"service": name, "enableExecuteCommand": svc.get("enableExecuteCommand")})
        td = ctx.facts.service_task_definition(name) or {}
        cname = ctx.facts.container_name(td)
        cdef: dict[str, Any] = next((c for c in td.get("containerDefinitions", []) if c.get("name") == cname), {})
        platform = svc.get("platformVersion")
        tasks = ctx.facts.tasks(name, "RUNNING")
        for t in tasks:
            tid = t["taskArn"].rsplit("/", 1)[-1]
            if t.get("enableExecuteCommand") is False:
                problems += 1
                yield ctx.finding("task_disabled", f"{name}/{tid}", severity=sev, task_id=tid, service=name,
                                  cluster=cluster, evidence={"service": name, "task": t["taskArn"]},
                                  resources=[name, t["taskArn"]])
            c: dict[str, Any] = next((c for c in t.get("containers", []) if c.get("name") == cname), {})
            agents = [a for a in c.get("managedAgents", []) if a.get("name") == "ExecuteCommandAgent"]
            status = None
            if t.get("enableExecuteCommand"):
                if agents and agents[0].get("lastStatus") != "RUNNING":
                    status = agents[0].get("lastStatus") or "unknown"
                elif "managedAgents" in c and not agents:
                    status = "absent"
            if status:
                problems += 1
                yield ctx.finding("agent_not_running", f"{name}/{tid}", severity=sev, status=status, task_id=tid,
                                  service=name, reason=(agents[0].get("reason") or "") if agents else "",
                                  evidence={"service": name, "task": t["taskArn"], "agent_status": status},
                                  resources=[name, t["taskArn"]])
            platform = t.get("platformVersion") or platform
        v = _version(platform)
        if v is not None and v < (1, 4, 0):
            problems += 1
            yield ctx.finding("platform_too_old", name, severity=sev, service=name, platform=platform,
                              cluster=cluster, evidence={"service": name, "platformVersion": platform})
        if cdef.get("readonlyRootFilesystem"):
            problems += 1
            yield ctx.finding("readonly_rootfs", name, severity=sev, service=name, container=cname,
                              evidence={"service": name, "container": cname,
                                        "taskDefinition": td.get("taskDefinitionArn")})
        static = sorted({e["name"] for e in cdef.get("environment", []) if e.get("name") in STATIC_KEYS})
        if static:
            problems += 1
            yield ctx.finding("static_keys_in_env", name, severity=sev, service=name, keys=", ".join(static),
                              evidence={"service": name, "keys": static})
        net = svc.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
        path = _ssmmessages_path(ctx, net.get("subnets", []))
        if path is not None and not path["ok"]:
            problems += 1
            yield ctx.finding("no_path_ssmmessages", name, severity=sev, service=name,
                              blocked=", ".join(path["blocked"]), notes="; ".join(path["notes"]),
                              vpc=path.get("vpc"), region=ctx.aws.region_name, evidence={"service": name, **path})
        if td.get("taskRoleArn"):
            roles.setdefault(td["taskRoleArn"], []).append(name)
        else:
            problems += 1
            yield ctx.finding("no_task_role", name, severity=sev, service=name, evidence={"service": name})
        if problems == before:
            yield ctx.finding("ready", name, service=name,
                              evidence={"service": name, "platformVersion": platform, "tasks": len(tasks)})
    for role, svcs in sorted(roles.items()):
        yield from _simulate(ctx, role, svcs, kms_key)


def _cluster_kms_key(ctx: CheckContext, cluster: str) -> str | None:
    try:
        cl = ctx.aws.client("ecs").describe_clusters(clusters=[cluster], include=["CONFIGURATIONS"]).get("clusters", [])
    except Exception:
        return None
    conf = (cl[0].get("configuration") or {}).get("executeCommandConfiguration") or {} if cl else {}
    return conf.get("kmsKeyId")


def _ssmmessages_path(ctx: CheckContext, subnets: list[str]) -> dict[str, Any] | None:
    """{ok, vpc, via[], blocked[], notes[]} for these worker subnets (shared network facts with net.egress);
    None when it cannot be determined."""
    if not subnets:
        return None
    try:
        paths = path_to_service(ctx.facts, "ssmmessages")
        net = worker_network(ctx.facts)
    except Exception as e:
        ctx.unknown(f"ssmmessages path not checked: {type(e).__name__}: {e}",
                    unlock="ec2:DescribeSubnets, ec2:DescribeRouteTables, ec2:DescribeVpcEndpoints")
        return None
    mine = [paths[s] for s in subnets if s in paths]
    if not mine:
        return None
    blocked = [p.subnet for p in mine if p.kind is None]
    sn = net.subnets.get(subnets[0])
    return {"ok": not blocked, "vpc": sn.vpc_id if sn else None,
            "via": sorted({f"{p.kind}:{p.via}" for p in mine if p.kind}), "blocked": blocked,
            "notes": sorted({p.note for p in mine if p.kind is None and p.note})}


def _simulate(ctx: CheckContext, role: str, services: list[str], kms_key: str | None) -> Iterator[Finding]:
    """Advisory: SimulatePrincipalPolicy ignores SCPs, permission boundaries' interplay and conditions."""

    actions = list(SSM_ACTIONS) + (["kms:Decrypt"] if kms_key else [])
    try:
        resp = ctx.aws.client("iam").simulate_principal_policy(PolicySourceArn=role, ActionNames=actions)
    except Exception as e:
        if denied_action(e):
            ctx.unknown(f"task role {role} not simulated: access denied", unlock="iam:SimulatePrincipalPolicy")
        else:
            ctx.unknown(f"task role {role} not simulated: {type(e).__name__}: {e}",
                        unlock="iam:SimulatePrincipalPolicy")
        return
    denied = sorted({r["EvalActionName"] for r in resp.get("EvaluationResults", [])
                     if r.get("EvalDecision") != "allowed"})
    ev = {"role": role, "services": services, "advisory": True,
          "note": "iam:SimulatePrincipalPolicy does not evaluate SCPs or condition keys"}
    name = role.rsplit("/", 1)[-1]
    if denied:
        yield ctx.finding("task_role_denied", name, variant="kms" if kms_key else None, role=name,
                          denied=", ".join(denied), kms_key=kms_key,
                          evidence={**ev, "denied": denied}, resources=[role, *services])
    else:
        yield ctx.finding("task_role_ok", name, role=name, evidence={**ev, "allowed": actions},
                          resources=[role, *services])
