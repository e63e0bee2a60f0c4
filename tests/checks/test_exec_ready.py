"""exec.ready against the moto world; moto gaps bent on its backend objects, IAM simulation via Stubber."""

from __future__ import annotations

import asyncio
import os

from botocore.stub import Stubber

from doctor.aws import AwsSession
from doctor.config import Config
from doctor.engine import Engine, EngineOptions
from doctor.model import CheckStatus
from doctor.registry import all_checks

from support.probe import FIXTURES

CLUSTER = "propertyfeedtemplate-production"


def _backend():
    from moto.ecs.models import ecs_backends

    return ecs_backends["123456789012"]["eu-west-1"]


def _enable_exec(world, agent_status: str = "RUNNING") -> None:
    """What real ECS reports for a service deployed with --enable-execute-command (moto drops it)."""
    b = _backend()
    for svc in b.services.values():
        svc.enable_execute_command = True
    for tasks in b.tasks.values():
        for t in tasks.values():
            t.enable_execute_command = True
            t.platform_version = "1.4.0"
            for c in t.containers:
                c.managed_agents = [{"name": "ExecuteCommandAgent", "lastStatus": agent_status}]


def _simulate(aws: AwsSession, decision: str = "allowed", error: str | None = None) -> Stubber:
    stub = Stubber(aws.client("iam"))
    if error:
        stub.add_client_error("simulate_principal_policy", error, "not authorized to perform: "
                              "iam:SimulatePrincipalPolicy", http_status_code=403)
    else:
        stub.add_response("simulate_principal_policy", {"EvaluationResults": [
            {"EvalActionName": a, "EvalDecision": decision} for a in (
                "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel")]})
    stub.activate()
    return stub


def _run(transport: str = "ecs-exec", decision: str = "allowed", error: str | None = None):
    aws = AwsSession("eu-west-1", transport=transport)
    stub = _simulate(aws, decision, error)
    cfg = Config(aws={"region": "eu-west-1"}, exec={"transport": transport})
    report = asyncio.run(Engine(cfg, all_checks(), EngineOptions(only=["exec.ready"], diagnose=False), aws=aws).run())
    stub.deactivate()
    return report.check("exec.ready")


def _signals(c) -> set[str]:
    return {s for f in c.findings for s in f.signals}


def test_ready_world_passes(world, monkeypatch) -> None:
    monkeypatch.setenv("PATH", f"{FIXTURES}{os.pathsep}{os.environ['PATH']}")
    c = _run()  # the sim world reports exec as real ECS does (doctor.sim.world.bend_ecs_exec)
    assert c.status == CheckStatus.passed, [f.title for f in c.findings]
    ready = [f for f in c.findings if ":ready:" in f.uid]
    assert len(ready) == 3 and all(f.signals == ["exec.ok"] for f in ready)
    role = [f for f in c.findings if ":task_role_ok:" in f.uid]
    assert role and role[0].evidence["advisory"] is True


def test_every_prerequisite_missing_is_its_own_finding(world, moto_session, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no session-manager-plugin
    _enable_exec(world, agent_status="STOPPED")
    b = _backend()
    sync = next(s for s in b.services.values() if s.name.endswith("-sync"))
    sync.enable_execute_command = False
    sync.platform_version = "1.3.0"
    for tasks in b.tasks.values():
        for t in tasks.values():
            if t.group == f"service:{sync.name}":
                t.platform_version = "1.3.0"
    ecs = moto_session.client("ecs")
    td = ecs.describe_task_definition(taskDefinition=world.task_definitions[sync.name])["taskDefinition"]
    cdef = dict(td["containerDefinitions"][0], readonlyRootFilesystem=True)
    cdef["environment"] = cdef["environment"] + [{"name": "AWS_ACCESS_KEY_ID", "value": "AKIAEXAMPLEEXAMPLE"},
                                                 {"name": "AWS_SECRET_ACCESS_KEY", "value": "static-secret-value"}]
    new = ecs.register_task_definition(family=td["family"], networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                                       cpu="512", memory="1024", taskRoleArn=td["taskRoleArn"],
                                       executionRoleArn=td["executionRoleArn"], containerDefinitions=[cdef])
    sync.task_definition = new["taskDefinition"]["taskDefinitionArn"]
    ec2 = moto_session.client("ec2")
    ec2.delete_route(RouteTableId=world.route_table, DestinationCidrBlock="0.0.0.0/0")
    c = _run(decision="implicitDeny")
    assert c.status == CheckStatus.fail
    assert {"exec.disabled", "exec.agent_not_running", "exec.platform_too_old", "exec.readonly_rootfs",
            "exec.static_keys_in_env", "net.no_path_ssmmessages", "exec.plugin_missing",
            "exec.task_role_denied"} <= _signals(c)
    assert "static-secret-value" not in c.model_dump_json() and "AKIAEXAMPLE" not in c.model_dump_json()
    static = next(f for f in c.findings if ":static_keys_in_env:" in f.uid)
    assert static.evidence["keys"] == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    denied = next(f for f in c.findings if ":task_role_denied:" in f.uid)
    assert denied.severity.value == "warning" and denied.evidence["advisory"] is True
    # an ssmmessages interface endpoint with private DNS is a path too (no NAT needed)
    ec2.create_vpc_endpoint(VpcId=world.vpc_id, ServiceName="com.amazonaws.eu-west-1.ssmmessages",
                            VpcEndpointType="Interface", SubnetIds=world.worker_subnets,
                            SecurityGroupIds=[world.endpoint_sg], PrivateDnsEnabled=True)
    assert "net.no_path_ssmmessages" not in _signals(_run(decision="implicitDeny"))


def test_severity_follows_the_transport_and_simulation_denied_is_unknown(world, monkeypatch) -> None:
    monkeypatch.setenv("PATH", f"{FIXTURES}{os.pathsep}{os.environ['PATH']}")
    for svc in _backend().services.values():
        svc.enable_execute_command = False
    for transport, severity in (("ecs-exec", "error"), ("probe-task", "warning")):
        c = _run(transport=transport, error="AccessDenied")
        disabled = [f for f in c.findings if ":disabled:" in f.uid]
        assert len(disabled) == 3 and {f.severity.value for f in disabled} == {severity}
        assert c.unlock == "iam:SimulatePrincipalPolicy"
    assert c.status == CheckStatus.unknown  # warnings + a part that could not run
