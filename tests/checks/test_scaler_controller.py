"""scaler.controller on moto: the Lambda controller (configuration, EventBridge trigger, CloudWatch metrics, its
log lines, VPC path and Redis SG, role, ranges), Application Auto Scaling, and the drain rule read from
queue.state against a real redis-server.

moto gaps bent here (never in the product):
- Lambda: moto runs nothing, so the AWS/Lambda metrics and the /aws/lambda/<fn> lines an invocation would
  produce are put with PutMetricData / PutLogEvents (doctor.sim.controller); GetFunctionConfiguration's
  VpcConfig.VpcId is a placeholder ("vpc-123abc"): the product takes the VPC from the subnets.
- iam:SimulatePrincipalPolicy is not implemented: answered from the role's inline policies in moto
  (support.scaler.simulate_from_moto).
- application-autoscaling:DescribeScalingActivities is not implemented: answered with the activities a test
  gives (support.scaler.answer); RegisterScalableTarget needs the ECS cluster and service to exist (they do).
- ECS: update_service sets runningCount = desiredCount at once; scale-in stop codes/times are set on moto's
  task objects (support.ecs_helpers.stop_task).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from doctor.model import CheckStatus, Severity
from doctor.sim import controller as sim

from support import ecs_helpers
from support.ecs_helpers import kinds, run_check, run_checks, stop_task
from support.queues import PREFIX, job
from support.scaler import answer, simulate_from_moto

moto_session = ecs_helpers.moto_session

ID = "scaler.controller"
CLUSTER = "propertyfeedtemplate-production"
SCALER = {"kind": "lambda", "function": sim.FUNCTION, "rule": sim.RULE}


@pytest.fixture
def ctl(world: Any, moto_session: Any, monkeypatch: pytest.MonkeyPatch) -> sim.ControllerWorld:
    c = sim.build_controller(moto_session, world)
    simulate_from_moto(monkeypatch, moto_session)
    return c


def by_kind(result: Any, kind: str) -> Any:
    match = [f for f in result.findings if f.uid.split(":")[1] == kind]
    assert match, f"no {kind} in {[f.uid for f in result.findings]} ({result.summary})"
    return match[0]


def test_not_configured_is_skipped(world: Any) -> None:
    r = run_check(ID)
    assert r.status == CheckStatus.skipped and r.summary.startswith("not configured: set [scaler] kind")
    r = run_check(ID, scaler={"kind": "lambda"})
    assert r.status == CheckStatus.unknown and r.unlock == "[scaler] function"


def test_healthy_controller(ctl: sim.ControllerWorld) -> None:
    r = run_check(ID, scaler=SCALER)
    assert r.status == CheckStatus.passed, (r.summary, [f.uid for f in r.findings])
    ok = by_kind(r, "ok")
    assert ok.signals == ["scaler.ok"]
    assert ok.title == (f"Controller {sim.FUNCTION}: Active, {sim.RULE} every 1 min; 60 invocation(s), "
                        "no error or throttle in the last hour")
    assert ok.evidence["metrics_last_hour"] == {"Errors": 0.0, "Throttles": 0.0, "Invocations": 60.0}


def test_the_trigger_is_found_from_the_function(ctl: sim.ControllerWorld) -> None:
    r = run_check(ID, scaler={"kind": "lambda", "function": sim.FUNCTION})
    assert r.status == CheckStatus.passed and by_kind(r, "ok").evidence["trigger"]["name"] == sim.RULE


def test_missing_function(world: Any) -> None:
    r = run_check(ID, scaler={"kind": "lambda", "function": "no-such-scaler"})
    f = by_kind(r, "not_found")
    assert r.status == CheckStatus.fail and f.severity == Severity.critical and f.signals == ["scaler.missing"]


def test_disabled_missing_or_misdirected_trigger(ctl: sim.ControllerWorld, moto_session: Any) -> None:
    events = moto_session.client("events")
    events.disable_rule(Name=sim.RULE)
    r = run_check(ID, scaler=SCALER)
    f = by_kind(r, "trigger_disabled")
    assert f.signals == ["scaler.disabled"] and "is DISABLED" in f.title and f"enable-rule --name {sim.RULE}" in f.remediation

    events.put_rule(Name="other-rule", ScheduleExpression="rate(5 minutes)", State="ENABLED")
    r = run_check(ID, scaler={**SCALER, "rule": "other-rule"})
    assert "scaler.disabled" in by_kind(r, "trigger_not_targeting").signals

    events.remove_targets(Rule=sim.RULE, Ids=["scaler"])
    r = run_check(ID, scaler={"kind": "lambda", "function": sim.FUNCTION})
    assert by_kind(r, "no_trigger").title.startswith(f"Nothing invokes controller {sim.FUNCTION}")


def test_errors_and_the_role_denied_in_its_logs(ctl: sim.ControllerWorld, moto_session: Any, world: Any) -> None:
    sim.put_invocations(moto_session, world, 15, errors=15)
    sim.put_controller_log(moto_session, world, [
        "[ERROR] ClientError: An error occurred (AccessDeniedException) when calling the UpdateService operation: "
        "User: arn:aws:sts::123456789012:assumed-role/ame-queue-scaler/x is not authorized to perform: "
        "ecs:UpdateService on resource: arn:aws:ecs:eu-west-1:123456789012:service/c/propertyfeedtemplate-image",
        "Traceback (most recent call last):",
    ] * 3)
    r = run_check(ID, scaler=SCALER)
    assert r.status == CheckStatus.fail
    errors = by_kind(r, "errors")
    assert errors.signals == ["scaler.errors"] and errors.title.startswith(f"{sim.FUNCTION}: 15 error(s) in 75 invocation")
    denied = by_kind(r, "log_role_denied")
    assert denied.signals == ["scaler.role_denied"] and "ecs:UpdateService" in denied.title
    assert denied.evidence["lines"] == 3
    assert "ok" not in kinds(r)


def test_a_single_error_among_many_invocations_is_a_warning(ctl: sim.ControllerWorld, moto_session: Any,
                                                            world: Any) -> None:
    sim.put_invocations(moto_session, world, 1, errors=1)
    r = run_check(ID, scaler=SCALER)
    assert by_kind(r, "errors").severity == Severity.warning and r.status == CheckStatus.warn


def test_throttled_and_not_invoked(ctl: sim.ControllerWorld, moto_session: Any, world: Any) -> None:
    sim.put_invocations(moto_session, world, 5, errors=0, throttles=5)
    r = run_check(ID, scaler=SCALER)
    assert by_kind(r, "throttled").signals == ["scaler.throttled"]


def test_not_invoked_although_enabled(world: Any, moto_session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    c = sim.build_controller(moto_session, world)
    simulate_from_moto(monkeypatch, moto_session)
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch_backends[ecs_helpers.ACCOUNT][ecs_helpers.REGION].metric_data.clear()  # no datapoint at all
    r = run_check(ID, scaler={"kind": "lambda", "function": c.function})
    f = by_kind(r, "not_invoked")
    assert f.signals == ["scaler.disabled"] and "fires every 1 min" in f.title and "add-permission" in f.remediation


def test_its_sg_not_admitted_on_redis(ctl: sim.ControllerWorld, moto_session: Any, world: Any) -> None:
    ec2 = moto_session.client("ec2")
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [world.redis_sg]}])
    ec2.revoke_security_group_ingress(GroupId=world.redis_sg, SecurityGroupRuleIds=[
        r["SecurityGroupRuleId"] for r in rules["SecurityGroupRules"]
        if r.get("ReferencedGroupInfo", {}).get("GroupId") == ctl.sg])
    ec2.authorize_security_group_ingress(GroupId=world.redis_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379, "IpRanges": [{"CidrIp": "172.31.9.14/32"}]}])
    r = run_check(ID, scaler=SCALER)
    f = by_kind(r, "no_redis_path")
    assert f.signals == ["scaler.no_redis_path"]
    assert "only 172.31.9.14/32 on port 6379" in f.title  # the old-IP reading of sg.ingress
    assert (f"aws ec2 authorize-security-group-ingress --group-id {world.redis_sg} --protocol tcp --port 6379 "
            f"--source-group {ctl.sg}") in f.remediation


def test_no_path_to_the_ecs_api(ctl: sim.ControllerWorld, moto_session: Any, world: Any) -> None:
    moto_session.client("ec2").delete_route(RouteTableId=world.route_table, DestinationCidrBlock="0.0.0.0/0")
    r = run_check(ID, scaler=SCALER)
    f = by_kind(r, "no_ecs_path")
    assert f.signals == ["scaler.no_ecs_path"] and all(s in f.title for s in world.worker_subnets)
    assert f"--vpc-id {world.vpc_id}" in f.remediation and "com.amazonaws.eu-west-1.ecs" in f.remediation


def test_the_role_may_not_update_the_services(ctl: sim.ControllerWorld, moto_session: Any, world: Any) -> None:
    sim.set_role_actions(moto_session, world, ctl, ["ecs:DescribeServices"])
    r = run_check(ID, scaler=SCALER)
    f = by_kind(r, "role_denied")
    assert f.signals == ["scaler.role_denied"] and f.severity == Severity.warning
    assert "may not ecs:UpdateService (advisory)" in f.title and f.evidence["advisory"] is True
    assert len(f.evidence["denied"]["ecs:UpdateService"]) == 3


def test_role_not_simulatable_is_unknown_like_exec_ready(world: Any, moto_session: Any) -> None:
    sim.build_controller(moto_session, world)  # no answer for SimulatePrincipalPolicy: moto raises
    r = run_check(ID, scaler=SCALER)
    assert r.status == CheckStatus.unknown and r.unlock == "iam:SimulatePrincipalPolicy"
    assert "ok" in kinds(r)


def test_ranges_in_its_environment(ctl: sim.ControllerWorld, moto_session: Any) -> None:
    lam = moto_session.client("lambda")
    env = lam.get_function_configuration(FunctionName=sim.FUNCTION)["Environment"]["Variables"]
    lam.update_function_configuration(FunctionName=sim.FUNCTION, Environment={"Variables": {**env, "SCALE_IMAGE": "0..3"}})
    r = run_check(ID, scaler=SCALER)
    f = by_kind(r, "range_mismatch")
    assert f.uid == f"{ID}:range_mismatch:{sim.FUNCTION}:image"
    assert f.title == f"{sim.FUNCTION} scales image within 0..3 (SCALE_IMAGE) but [queues.image] scale is [0, 2]"
    r = run_check(ID, scaler={**SCALER, "range_env": "MAX_{QUEUE}"})  # a mapping with no such variables: nothing to compare
    assert "range_mismatch" not in kinds(r)


def test_every_aws_call_is_in_the_declared_policy(ctl: sim.ControllerWorld) -> None:
    import asyncio

    from checks.scaler_controller import META
    from doctor.aws import AwsSession, iam_action
    from doctor.config import Config
    from doctor.engine import Engine, EngineOptions
    from doctor.registry import all_checks

    def calls(scaler: dict[str, Any]) -> set[str]:
        cfg = Config.model_validate({"aws": {"region": "eu-west-1"}, "scaler": scaler})
        aws = AwsSession("eu-west-1")
        aws._session = ecs_helpers.fast_session()
        asyncio.run(Engine(cfg, all_checks(), EngineOptions(only=[ID], diagnose=False), aws=aws).run())
        return {iam_action(s, op) for s, op in aws.calls}

    engine_only = calls({"kind": "none"})  # the engine's own calls (the check is skipped)
    called = calls(SCALER) - engine_only
    assert "lambda:GetFunctionConfiguration" in called
    assert called <= set(META.iam_actions), sorted(called - set(META.iam_actions))


# --- Application Auto Scaling --------------------------------------------------------------------------------------
AAS = {"kind": "application-autoscaling"}


def register_targets(session: Any, world: Any, ranges: dict[str, tuple[int, int]]) -> None:
    aas = session.client("application-autoscaling")
    for queue, (lo, hi) in ranges.items():
        rid = f"service/{CLUSTER}/{world.services[queue]}"
        aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension="ecs:service:DesiredCount",
                                     MinCapacity=lo, MaxCapacity=hi)
        aas.put_scaling_policy(PolicyName=f"{queue}-backlog", ServiceNamespace="ecs", ResourceId=rid,
                               ScalableDimension="ecs:service:DesiredCount", PolicyType="StepScaling",
                               StepScalingPolicyConfiguration={"AdjustmentType": "ExactCapacity", "StepAdjustments": [
                                   {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]})


def activities(monkeypatch: pytest.MonkeyPatch, by_resource: dict[str, list[dict[str, Any]]]) -> None:
    answer(monkeypatch, "application-autoscaling", "DescribeScalingActivities",
           lambda p: {"ScalingActivities": by_resource.get(p.get("ResourceId", ""), [])})


def test_autoscaling_healthy(world: Any, moto_session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    register_targets(moto_session, world, {"sync": (0, 1), "image": (0, 2), "bulk": (0, 1)})
    activities(monkeypatch, {})
    r = run_check(ID, scaler=AAS)
    assert r.status == CheckStatus.passed, (r.summary, [f.uid for f in r.findings])
    assert by_kind(r, "ok").title == ("Application Auto Scaling: every service has its target (sync 0..1, image 0..2, "
                                      "bulk 0..1), a policy and no failed activity")


def test_autoscaling_findings(world: Any, moto_session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    register_targets(moto_session, world, {"sync": (0, 1), "image": (0, 3)})
    now = datetime.now(UTC)
    image = f"service/{CLUSTER}/{world.services['image']}"
    activities(monkeypatch, {image: [{
        "ActivityId": "a1", "ServiceNamespace": "ecs", "ResourceId": image, "ScalableDimension": "ecs:service:DesiredCount",
        "Description": "Setting desired count to 1.", "Cause": "monitor alarm backlog", "StartTime": now - timedelta(minutes=5),
        "StatusCode": "Failed", "StatusMessage": "Failed to set desired count to 1. Reason: AccessDeniedException"}]})
    r = run_check(ID, scaler=AAS)
    assert r.status == CheckStatus.fail
    assert by_kind(r, "aas_target_missing").evidence["service"] == world.services["bulk"]
    mismatch = by_kind(r, "range_mismatch")
    assert mismatch.title.endswith("Min 0 / Max 3 but [queues.image] scale is [0, 2]")
    failed = by_kind(r, "aas_activity_failed")
    assert failed.signals == ["scaler.errors"] and "AccessDeniedException" in failed.title


def test_autoscaling_activities_unreadable_is_unknown(world: Any, moto_session: Any) -> None:
    register_targets(moto_session, world, {"sync": (0, 1), "image": (0, 2), "bulk": (0, 1)})
    r = run_check(ID, scaler=AAS)  # moto: DescribeScalingActivities not implemented
    assert r.status == CheckStatus.unknown
    assert r.unlock == "application-autoscaling:DescribeScalingActivities"


# --- the drain rule and the wake-up, from queue.state's readings --------------------------------------------------------
@pytest.fixture
def live(ctl: sim.ControllerWorld, world: Any, moto_session: Any, redis_clean: Any, dns_server: Any) -> dict[str, Any]:
    """The controller world with SSM pointing at a real redis-server (resolved through the test DNS server)."""
    moto_session.client("ssm").put_parameter(Name=world.param("REDIS_PORT"), Value=str(redis_clean.port),
                                             Type="String", Overwrite=True)
    dns_server.set(world.redis_host, "A", "127.0.0.1")
    return {"world": world, "redis": redis_clean, "dns": {"nameservers": [dns_server.nameserver]}}


def scale_to_zero(session: Any, world: Any, queue: str, minutes_ago: float) -> None:
    service = world.services[queue]
    session.client("ecs").update_service(cluster=CLUSTER, service=service, desiredCount=0)
    for arn in world.tasks[service]:
        stop_task(session, world, arn, reason="Scaling activity initiated by (deployment ecs-svc/1)",
                  stop_code="ServiceSchedulerInitiated", exit_code=0, minutes_ago=minutes_ago)


def drain_run(live: dict[str, Any]) -> Any:
    report = run_checks("queue.state", ID, scaler=SCALER, dns=live["dns"], exec={"transport": "off"})
    return report.check(ID)


def test_idle_backlog_older_than_a_run(live: dict[str, Any], moto_session: Any) -> None:
    w = live["world"]
    scale_to_zero(moto_session, w, "image", minutes_ago=40)
    now = time.time()
    live["redis"].client(0).rpush(PREFIX + "queues:image", *[job(created=now - 600) for _ in range(12)])
    r = drain_run(live)
    f = by_kind(r, "idle_backlog")
    assert f.signals == ["scaler.idle_with_backlog"] and f.severity == Severity.warning  # the controller looks fine
    assert f.evidence["controller_failing"] == []
    assert f.evidence["queue"] == "image" and f.evidence["ready"] == 12
    assert "longer than one run (60s)" in f.detail
    assert "drained_too_early" not in kinds(r)  # those jobs arrived after the scale-in


def test_drained_while_the_queue_held_jobs(live: dict[str, Any], moto_session: Any, world: Any) -> None:
    w = live["world"]
    scale_to_zero(moto_session, w, "bulk", minutes_ago=20)
    now = time.time()
    r0 = live["redis"].client(0)
    r0.rpush(PREFIX + "queues:bulk", *[job(created=now - 3600) for _ in range(5)])
    r0.zadd(PREFIX + "queues:bulk:reserved", {job(attempts=1): now - 1200})
    sim.put_invocations(moto_session, w, 10, errors=10)
    r = drain_run(live)
    f = by_kind(r, "drained_too_early")
    assert f.signals == ["scaler.drained_too_early"] and f.evidence["service"] == w.services["bulk"]
    assert f.title == f"{w.services['bulk']} was scaled to 0 while 'bulk' still held 1 reserved and 5 ready"
    idle = by_kind(r, "idle_backlog")
    assert idle.severity == Severity.critical and idle.evidence["controller_failing"] == ["scaler.errors"]
    assert idle.signals == ["scaler.idle_with_backlog", "scaler.not_waking"]
    assert "the controller that should wake it is failing (scaler.errors)" in idle.title


def test_drain_rule_unknown_without_queue_readings(ctl: sim.ControllerWorld, moto_session: Any, world: Any) -> None:
    scale_to_zero(moto_session, world, "bulk", minutes_ago=5)
    r = run_check(ID, scaler=SCALER)
    assert r.status == CheckStatus.unknown and "drain rule not checked" in r.summary
    assert r.unlock == "queue.state (Redis readable)"
    assert json.dumps(r.model_dump(mode="json"))
