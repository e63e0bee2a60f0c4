"""exec.ready — the ECS Exec prerequisites, so `--exec ecs-exec` (and on-call's own `aws ecs execute-command`) work."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

from doctor.checkapi import CheckContext, CheckMeta, check
from doctor.model import Finding
from doctor.probe import PLUGIN_INSTALL_HINT

META = CheckMeta(
    id="exec.ready",
    title="ECS Exec prerequisites are met",
    order=12,
    proves="For each worker service: ECS Exec is enabled on the service and on its running tasks, the "
    "ExecuteCommandAgent is RUNNING, the Fargate platform is >= 1.4.0, the container root filesystem is "
    "writable, no static AWS_* keys sit in the container environment, the worker subnets have a path to "
    "ssmmessages (interface endpoint with private DNS, or NAT), the task role allows the ssmmessages actions "
    "(advisory: iam:SimulatePrincipalPolicy does not evaluate SCPs or conditions), and session-manager-plugin "
    "is installed on this host.",
    why="The in-task probes (reach.redis, reach.aurora) and on-call's own `aws ecs execute-command` depend on "
    "ECS Exec; each missing prerequisite fails it with a different, often unhelpful, error.",
    remediation="`aws ecs update-service --cluster <cluster> --service <service> --enable-execute-command "
    "--force-new-deployment`; grant the task role ssmmessages:CreateControlChannel/CreateDataChannel/"
    "OpenControlChannel/OpenDataChannel; add an ssmmessages interface endpoint (private DNS) or a NAT route; "
    "install session-manager-plugin.",
    iam_actions=("ecs:DescribeServices", "ecs:ListTasks", "ecs:DescribeTasks", "ecs:DescribeTaskDefinition",
                 "ecs:DescribeClusters", "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints",
                 "ec2:DescribeSubnets", "iam:SimulatePrincipalPolicy"),
    needs=("aws",),
)

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
        yield ctx.legacy_finding("plugin_missing", "session-manager-plugin", "warning" if needed else "info",
                          "session-manager-plugin is not installed on the doctor host",
                          detail="ECS Exec sessions (aws ecs execute-command, --exec ecs-exec) need it.",
                          evidence={"transport": cfg.exec.transport, "fallback": cfg.exec.fallback},
                          remediation=PLUGIN_INSTALL_HINT, signals=["exec.plugin_missing"])

    kms_key = _cluster_kms_key(ctx, cluster)
    roles: dict[str, list[str]] = {}
    for name, svc in services.items():
        if svc is None:
            ctx.unknown(f"service {name} not found in {cluster}")
            continue
        fix_enable = (f"aws ecs update-service --cluster {cluster} --service {name} --enable-execute-command "
                      "--force-new-deployment")
        before = problems
        if not svc.get("enableExecuteCommand"):
            problems += 1
            yield ctx.legacy_finding("disabled", name, sev, f"ECS Exec is not enabled on service {name}",
                              evidence={"service": name, "enableExecuteCommand": svc.get("enableExecuteCommand")},
                              remediation=fix_enable, signals=["exec.disabled"])
        td = ctx.facts.service_task_definition(name) or {}
        cname = ctx.facts.container_name(td)
        cdef: dict[str, Any] = next((c for c in td.get("containerDefinitions", []) if c.get("name") == cname), {})
        platform = svc.get("platformVersion")
        tasks = ctx.facts.tasks(name, "RUNNING")
        for t in tasks:
            tid = t["taskArn"].rsplit("/", 1)[-1]
            if t.get("enableExecuteCommand") is False:
                problems += 1
                yield ctx.legacy_finding("task_disabled", f"{name}/{tid}", sev,
                                  f"Task {tid} of {name} was started without ECS Exec",
                                  detail="Tasks keep the setting they started with: redeploy after enabling it.",
                                  evidence={"service": name, "task": t["taskArn"]}, resources=[name, t["taskArn"]],
                                  remediation=fix_enable, signals=["exec.disabled"])
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
                yield ctx.legacy_finding("agent_not_running", f"{name}/{tid}", sev,
                                  f"ExecuteCommandAgent is {status} in task {tid} of {name}",
                                  detail=(agents[0].get("reason") or "") if agents else "",
                                  evidence={"service": name, "task": t["taskArn"], "agent_status": status},
                                  resources=[name, t["taskArn"]],
                                  remediation="Check the task's path to ssmmessages and the task role's ssmmessages "
                                  "permissions, then redeploy.", signals=["exec.agent_not_running"])
            platform = t.get("platformVersion") or platform
        v = _version(platform)
        if v is not None and v < (1, 4, 0):
            problems += 1
            yield ctx.legacy_finding("platform_too_old", name, sev, f"{name} runs Fargate platform {platform} (< 1.4.0)",
                              evidence={"service": name, "platformVersion": platform},
                              remediation=f"aws ecs update-service --cluster {cluster} --service {name} "
                              "--platform-version LATEST --force-new-deployment", signals=["exec.platform_too_old"])
        if cdef.get("readonlyRootFilesystem"):
            problems += 1
            yield ctx.legacy_finding("readonly_rootfs", name, sev,
                              f"{name}: container {cname} has a read-only root filesystem",
                              detail="The ECS Exec agent needs to write to the container filesystem.",
                              evidence={"service": name, "container": cname, "taskDefinition": td.get("taskDefinitionArn")},
                              remediation="Set readonlyRootFilesystem to false (mount writable volumes for "
                              "storage/ and bootstrap/cache if you keep it read-only elsewhere).",
                              signals=["exec.readonly_rootfs"])
        static = sorted({e["name"] for e in cdef.get("environment", []) if e.get("name") in STATIC_KEYS})
        if static:
            problems += 1
            yield ctx.legacy_finding("static_keys_in_env", name, sev,
                              f"{name}: static AWS credentials in the container environment ({', '.join(static)})",
                              detail="Static keys override the task role, so the exec agent's ssmmessages calls use "
                              "them; they are also a leak risk. Values are not shown.",
                              evidence={"service": name, "keys": static}, remediation="Remove AWS_* keys from the "
                              "task definition; grant the task role what the app needs.",
                              signals=["exec.static_keys_in_env"])
        net = svc.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
        path = _ssmmessages_path(ctx, net.get("subnets", []))
        if path is not None and not path["ok"]:
            problems += 1
            yield ctx.legacy_finding("no_path_ssmmessages", name, sev,
                              f"{name}: worker subnets have no path to ssmmessages",
                              detail="No ssmmessages interface endpoint with private DNS and no usable default "
                              "route (NAT, or IGW with a public IP) from " + ", ".join(path["blocked"]) + ". "
                              + "; ".join(path["notes"]),
                              evidence={"service": name, **path},
                              remediation=f"aws ec2 create-vpc-endpoint --vpc-endpoint-type Interface --vpc-id "
                              f"{path.get('vpc')} --service-name com.amazonaws.{ctx.aws.region_name}.ssmmessages "
                              "--private-dns-enabled --subnet-ids ... --security-group-ids ...",
                              signals=["net.no_path_ssmmessages"])
        if td.get("taskRoleArn"):
            roles.setdefault(td["taskRoleArn"], []).append(name)
        else:
            problems += 1
            yield ctx.legacy_finding("no_task_role", name, sev, f"{name}: the task definition has no task role",
                              detail="The exec agent authenticates to ssmmessages with the task role.",
                              evidence={"service": name}, signals=["exec.task_role_denied"])
        if problems == before:
            yield ctx.legacy_finding("ready", name, "info", f"ECS Exec prerequisites met for {name}",
                              evidence={"service": name, "platformVersion": platform, "tasks": len(tasks)},
                              signals=["exec.ok"])
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
    from doctor import netinfo

    try:
        paths = netinfo.path_to_service(ctx.facts, "ssmmessages")
        net = netinfo.worker_network(ctx.facts)
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
    from doctor.aws import denied_action

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
    if denied:
        yield ctx.legacy_finding("task_role_denied", role.rsplit("/", 1)[-1], "warning",
                          f"Task role {role.rsplit('/', 1)[-1]} may not allow {', '.join(denied)} (advisory)",
                          evidence={**ev, "denied": denied}, resources=[role, *services],
                          remediation="Add to the task role: " + ", ".join(denied) + " on Resource *"
                          + (f" (kms:Decrypt on {kms_key})" if kms_key else "") + ".",
                          signals=["exec.task_role_denied"])
    else:
        yield ctx.legacy_finding("task_role_ok", role.rsplit("/", 1)[-1], "info",
                          f"Task role {role.rsplit('/', 1)[-1]} allows the ssmmessages actions (advisory)",
                          evidence={**ev, "allowed": actions}, resources=[role, *services], signals=["exec.ok"])
