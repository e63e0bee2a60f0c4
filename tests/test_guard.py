"""The read-only guard: writes are refused before they leave the process; everything the built-in
checks call is on the allow-list."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from doctor.aws import AwsSession, WriteRefused, denied_action, iam_action, is_allowed
from doctor.config import Config
from doctor.engine import Engine, EngineOptions
from doctor.model import CheckStatus
from doctor.registry import all_checks


@pytest.mark.parametrize(("op", "transport", "allowed"), [
    ("DescribeServices", None, True),
    ("ListTasks", None, True),
    ("GetParametersByPath", None, True),
    ("HeadBucket", None, True),
    ("FilterLogEvents", None, True),
    ("SimulatePrincipalPolicy", None, True),
    ("PutParameter", None, False),
    ("UpdateService", None, False),
    ("DeleteParameter", None, False),
    ("AuthorizeSecurityGroupIngress", None, False),
    ("ExecuteCommand", None, False),
    ("ExecuteCommand", "ecs-exec", True),
    ("ExecuteCommand", "probe-task", False),
    ("RunTask", "ecs-exec", False),
    ("RunTask", "probe-task", True),
    ("StopTask", "probe-task", True),
    ("StopTask", "local", False),
    ("UpdateService", "probe-task", False),
])
def test_allow_list(op: str, transport: str | None, allowed: bool) -> None:
    assert is_allowed(op, transport) is allowed


def test_put_parameter_is_refused_and_never_sent(moto_session: Any) -> None:
    aws = AwsSession("eu-west-1")
    with pytest.raises(WriteRefused, match="ssm:PutParameter"):
        aws.client("ssm").put_parameter(Name="/x/DB_HOST", Value="evil", Type="String")
    assert ("ssm", "PutParameter") in aws.calls
    # moto never saw it: the parameter does not exist
    assert moto_session.client("ssm").get_parameters(Names=["/x/DB_HOST"])["InvalidParameters"] == ["/x/DB_HOST"]


def test_update_service_is_refused_and_never_sent(world: Any, moto_session: Any) -> None:
    aws = AwsSession("eu-west-1", transport="probe-task")
    svc = world.services["image"]
    with pytest.raises(WriteRefused, match="ecs:UpdateService"):
        aws.client("ecs").update_service(cluster=world.spec.cluster, service=svc, desiredCount=9)
    desc = moto_session.client("ecs").describe_services(cluster=world.spec.cluster, services=[svc])
    assert desc["services"][0]["desiredCount"] != 9


def test_every_client_is_guarded(moto_session: Any) -> None:
    aws = AwsSession("eu-west-1")
    for service, call, kwargs in [
        ("ec2", "create_security_group", {"GroupName": "x", "Description": "x"}),
        ("s3", "create_bucket", {"Bucket": "x-bucket"}),
        ("rds", "delete_db_cluster", {"DBClusterIdentifier": "x"}),
        ("elasticache", "delete_replication_group", {"ReplicationGroupId": "x"}),
        ("logs", "put_log_events", {"logGroupName": "x", "logStreamName": "x", "logEvents": [{"timestamp": 1, "message": "x"}]}),
    ]:
        with pytest.raises(WriteRefused):
            getattr(aws.client(service), call)(**kwargs)


def test_write_refused_in_a_check_is_a_loud_error(moto_session: Any) -> None:
    from doctor.registry import CheckMeta, RegisteredCheck

    def writer(ctx: Any) -> Any:
        ctx.aws.client("ssm").put_parameter(Name="/x/Y", Value="v", Type="String")
        return iter(())

    meta = CheckMeta(id="syn.writer", title="t", order=1, proves="p", why="w", remediation="r")
    engine = Engine(Config(aws={"region": "eu-west-1"}), [RegisteredCheck(meta, writer, "tests")],
                    EngineOptions(diagnose=False))
    report = asyncio.run(engine.run())
    r = report.check("syn.writer")
    assert r.status == CheckStatus.error
    assert "read-only guard refused ssm:PutParameter" in r.summary and "bug" in r.summary


def test_denied_action_names_iam_action() -> None:
    from botocore.exceptions import ClientError

    msg = "User: arn:aws:iam::1:user/u is not authorized to perform: ecs:DescribeServices on resource: *"
    e = ClientError({"Error": {"Code": "AccessDeniedException", "Message": msg}}, "DescribeServices")
    assert denied_action(e) == "ecs:DescribeServices"
    e = ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "nope"}}, "DescribeRouteTables")
    assert denied_action(e) == "ec2:DescribeRouteTables"
    e = ClientError({"Error": {"Code": "ParameterNotFound", "Message": "x"}}, "GetParameter")
    assert denied_action(e) is None
    assert iam_action("s3", "HeadBucket") == "s3:ListBucket"


@pytest.mark.parametrize("transport", ["ecs-exec", "probe-task"])
def test_builtin_checks_only_call_allowed_operations(world: Any, transport: str) -> None:
    """Run every built-in check against the moto world; every AWS call it made must be allowed for the
    chosen transport, and no check may have been stopped by the guard."""
    cfg = Config(aws={"region": "eu-west-1"}, exec={"transport": transport, "timeout": 5},
                 run={"timeout": 90, "check_timeout": 60}, dns={"nameservers": ["127.0.0.1:9"]})
    engine = Engine(cfg, all_checks(), EngineOptions(diagnose=False))
    report = asyncio.run(engine.run())
    assert engine.aws.calls, "the built-in checks made no AWS call at all"
    refused = [(s, op) for s, op in engine.aws.calls if not is_allowed(op, transport)]
    assert refused == []
    guard_errors = [c.id for c in report.checks if "read-only guard" in c.summary]
    assert guard_errors == []
    # the declared IAM actions of each check cover what the checks call (documentation stays honest)
    declared = {a for c in all_checks() for a in c.meta.iam_actions}
    called = {iam_action(s, op) for s, op in engine.aws.calls if s != "sts"}
    undeclared = sorted(called - declared - {"ssm:GetParameters", "kms:Decrypt"})
    assert undeclared == [], f"calls not declared in any check's iam_actions: {undeclared}"


@pytest.mark.parametrize(("env", "mode"), [(None, "standard"), ("adaptive", "adaptive"), ("legacy", "standard")])
def test_session_retries_and_timeouts(monkeypatch: pytest.MonkeyPatch, env: str | None, mode: str) -> None:
    if env is None:
        monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    else:
        monkeypatch.setenv("AWS_RETRY_MODE", env)
    aws = AwsSession("eu-west-1", connect_timeout=3, read_timeout=7)
    cfg = aws.client("ecs").meta.config
    assert cfg.retries["mode"] == mode and cfg.retries["total_max_attempts"] >= 2
    assert (cfg.connect_timeout, cfg.read_timeout) == (3, 7)
    assert aws.client("ecs") is aws.client("ecs")  # one cached client per service


def test_no_attribute_hands_out_an_unguarded_session(moto_session: Any) -> None:
    """The boto3 session is private and carries the guard itself: nothing reachable from an AwsSession's
    public attributes can make a client around it, and a client made from the session anyway is guarded."""
    import boto3
    import botocore.session

    aws = AwsSession("eu-west-1")
    aws.client("ssm")  # the session exists now
    assert not hasattr(aws, "session")
    for name in dir(aws):
        if name.startswith("_"):
            continue
        value = getattr(aws, name)
        assert not isinstance(value, boto3.Session | botocore.session.Session), name
    raw = aws._boto_session().create_client("ssm")  # even through the private door
    with pytest.raises(WriteRefused, match="ssm:PutParameter"):
        raw.put_parameter(Name="/x/Y", Value="v", Type="String")


def test_the_reachability_call_is_guarded_and_read_only(moto_session: Any) -> None:
    aws = AwsSession("eu-west-1")
    answer, error = aws.reach("sts", "c")
    assert error is None and answer is not None and answer["Account"]
    assert aws.reach("ecs", "no-such-cluster")[1] is None
    assert aws.calls == [("sts", "GetCallerIdentity"), ("ecs", "DescribeClusters")]


def test_once_aws_is_down_every_call_fails_at_once(moto_session: Any) -> None:
    """After the engine found AWS unreachable, later calls (the gate's views, a timeline) do not wait again."""
    from botocore.exceptions import EndpointConnectionError

    aws = AwsSession("eu-west-1")
    aws.down = EndpointConnectionError(endpoint_url="http://127.0.0.1:9/")
    with pytest.raises(EndpointConnectionError):
        aws.client("ecs").describe_services(cluster="c", services=["s"])
    assert aws.calls == [("ecs", "DescribeServices")]  # guarded first, then stopped before the network
