"""The platform's burst/drain controller in the simulated account, and its Sentry — shared by the demo and
the tests.

``build_controller(session, world)`` creates, through ordinary boto3 calls (moto in-process or server): the
controller's IAM role (allowed ecs:UpdateService / ecs:DescribeServices on the three services), the Lambda
function in the worker subnets with its own security group (admitted on the Redis SG, like the workers) and
the ranges in its environment, the EventBridge rule invoking it every minute, an hour of CloudWatch metrics
(one invocation a minute, no error) and its log lines. :func:`quiet_sentry` fills a Sentry stand-in with
the history a healthy platform has: unresolved issues silent for days. Their demo faults are in
:mod:`doctor.sim.integration_faults`.

moto gaps bent here (never in the product): moto runs no Lambda and publishes no AWS/Lambda metrics, so the
metrics and log lines a real invocation would produce are put with PutMetricData / PutLogEvents.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from doctor.sim.sentry_server import SentryStandIn
from doctor.sim.world import World, put_log_lines

FUNCTION = "propertyfeedtemplate-queue-scaler"
RULE = "propertyfeedtemplate-queue-scaler-every-minute"
ROLE = "ame-queue-scaler"
SENTRY_ORG = "zentra"
SENTRY_PROJECT = "propertyfeedtemplate-workers"
SENTRY_TOKEN = "sntrys_demo-0c6f1e9a2b7d4c38a5e1f0b9d2c4a6e8"  # the stand-in's only token (not a real one)
SENTRY_TOKEN_ENV = "AME_DEMO_SENTRY_TOKEN"
SCALE = {"sync": "0..1", "image": "0..2", "bulk": "0..1"}


@dataclass
class ControllerWorld:
    function: str = FUNCTION
    function_arn: str = ""
    role_arn: str = ""
    rule: str = RULE
    sg: str = ""
    log_group: str = f"/aws/lambda/{FUNCTION}"
    allowed: list[str] = field(default_factory=lambda: ["ecs:UpdateService", "ecs:DescribeServices"])


def build_controller(session: Any, w: World) -> ControllerWorld:
    """A healthy controller: invoked every minute for the last hour, no error, able to reach Redis and ECS."""
    c = ControllerWorld()
    region = w.spec.region
    iam = session.client("iam", region_name=region)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    c.role_arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    set_role_actions(session, w, c, c.allowed)
    ec2 = session.client("ec2", region_name=region)
    c.sg = ec2.create_security_group(GroupName="ame-queue-scaler", Description="queue scaler",
                                     VpcId=w.vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=w.redis_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379,
        "UserIdGroupPairs": [{"GroupId": c.sg, "Description": "queue scaler"}]}])
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    lam = session.client("lambda", region_name=region)
    c.function_arn = lam.create_function(
        FunctionName=FUNCTION, Runtime="python3.12", Role=c.role_arn, Handler="handler.handler",
        Code={"ZipFile": code.getvalue()}, Timeout=30,
        VpcConfig={"SubnetIds": list(w.worker_subnets), "SecurityGroupIds": [c.sg]},
        Environment={"Variables": {"CLUSTER": w.spec.cluster, "REDIS_HOST": w.redis_host,
                                   **{f"SCALE_{q.upper()}": r for q, r in SCALE.items()}}},
    )["FunctionArn"]
    events = session.client("events", region_name=region)
    events.put_rule(Name=RULE, ScheduleExpression="rate(1 minute)", State="ENABLED")
    events.put_targets(Rule=RULE, Targets=[{"Id": "scaler", "Arn": c.function_arn}])
    put_invocations(session, w, 60, errors=0)
    logs = session.client("logs", region_name=region)
    logs.create_log_group(logGroupName=c.log_group)
    put_log_lines(logs, c.log_group, "2026/11/30/[$LATEST]0001", [
        "START RequestId: 0001 Version: $LATEST",
        "[INFO] queues: sync ready=0 desired=0, image ready=2 desired=1, bulk ready=0 desired=0",
        "END RequestId: 0001", "REPORT RequestId: 0001 Duration: 212.31 ms"])
    return c


def set_role_actions(session: Any, w: World, c: ControllerWorld, actions: list[str]) -> None:
    """The controller role's inline policy: ``actions`` on the worker services."""
    account = c.role_arn.split(":")[4] if c.role_arn else "123456789012"
    resources = [f"arn:aws:ecs:{w.spec.region}:{account}:service/{w.spec.cluster}/{s}" for s in w.services.values()]
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]}
    session.client("iam", region_name=w.spec.region).put_role_policy(
        RoleName=ROLE, PolicyName="scale-workers", PolicyDocument=json.dumps(doc))
    c.allowed = list(actions)


def put_invocations(session: Any, w: World, minutes: int, errors: int, throttles: int = 0) -> None:
    """One invocation a minute over the last ``minutes`` (the last ``errors`` of them failed)."""
    now = datetime.now(UTC)
    data = []
    for i in range(minutes):
        at = now - timedelta(minutes=minutes - i - 0.5)
        dims = [{"Name": "FunctionName", "Value": FUNCTION}]
        data.append({"MetricName": "Invocations", "Dimensions": dims, "Timestamp": at, "Value": 1.0, "Unit": "Count"})
        failed = i >= minutes - errors
        data.append({"MetricName": "Errors", "Dimensions": dims, "Timestamp": at, "Value": 1.0 if failed else 0.0,
                     "Unit": "Count"})
        if i >= minutes - throttles:
            data.append({"MetricName": "Throttles", "Dimensions": dims, "Timestamp": at, "Value": 1.0,
                         "Unit": "Count"})
    cw = session.client("cloudwatch", region_name=w.spec.region)
    for start in range(0, len(data), 500):
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=data[start:start + 500])


def put_controller_log(session: Any, w: World, lines: list[str]) -> None:
    stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{int(time.time())}"
    put_log_lines(session.client("logs", region_name=w.spec.region), f"/aws/lambda/{FUNCTION}", stream, lines)


def quiet_sentry(sentry: SentryStandIn) -> None:
    """The Sentry history of a healthy platform: old incidents, unresolved, silent for days."""
    old = sentry.add_issue(SENTRY_PROJECT, "Illuminate\\Database\\QueryException: SQLSTATE[HY000] [2002] Connection "
                           "timed out (Connection: mysql, SQL: select * from `media` where `id` = ?)",
                           culprit="App\\Jobs\\ImportListing::handle",
                           error_type="Illuminate\\Database\\QueryException",
                           error_value="SQLSTATE[HY000] [2002] Connection timed out")
    sentry.add_event(old, datetime.now(UTC) - timedelta(days=3, hours=2), count=212, tags={"queue": "bulk"})
    notice = sentry.add_issue(SENTRY_PROJECT, "ErrorException: Undefined array key \"width\"",
                              culprit="App\\Jobs\\ResizeImage::handle", error_type="ErrorException",
                              error_value="Undefined array key \"width\"")
    sentry.add_event(notice, datetime.now(UTC) - timedelta(days=6), count=3, tags={"queue": "image"})


def start_sentry() -> SentryStandIn:
    server = SentryStandIn(organization=SENTRY_ORG, projects={SENTRY_PROJECT: "4505"}).start()
    server.add_token(SENTRY_TOKEN)
    return server


def config(c: ControllerWorld, sentry: SentryStandIn | None) -> dict[str, Any]:
    """The [scaler] and [sentry] config sections for this world."""
    out: dict[str, Any] = {"scaler": {"kind": "lambda", "function": c.function, "rule": c.rule}}
    if sentry is not None:
        out["sentry"] = {"url": sentry.url, "organization": SENTRY_ORG, "projects": [SENTRY_PROJECT],
                         "environment": "production", "queue_tag": "queue", "token_env": SENTRY_TOKEN_ENV}
    return out

