"""s3.access against the moto world: bucket 404 / 403, and the network path from the worker subnets."""

from __future__ import annotations

import asyncio
from typing import Any

from botocore.exceptions import ClientError

from doctor.aws import AwsSession
from doctor.config import Config
from doctor.engine import Engine
from doctor.registry import get_check

from support import netcheck as _netcheck
from support.netcheck import fast_session, run_check, signals

moto_session = _netcheck.moto_session  # overrides conftest's: same world, shared botocore loader (fast)


def ec2(session: Any) -> Any:
    return session.client("ec2", region_name="eu-west-1")


def drop_nat_route(session: Any, world: Any) -> None:
    ec2(session).delete_route(RouteTableId=world.route_table, DestinationCidrBlock="0.0.0.0/0")


def drop_s3_endpoint(session: Any, world: Any) -> None:
    ec2(session).modify_vpc_endpoint(VpcEndpointId=world.s3_endpoint, RemoveRouteTableIds=[world.route_table])


def test_healthy_world_passes(world) -> None:
    r = run_check("s3.access")
    assert r.status.value == "pass", r
    ok = next(f for f in r.findings if f.signals == ["s3.ok"])
    assert ok.evidence["bucket"] == world.spec.bucket
    assert {p["path"] for p in ok.evidence["paths"].values()} == {"gateway-endpoint"}


def test_bucket_missing(world, moto_session) -> None:
    moto_session.client("s3", region_name="eu-west-1").delete_bucket(Bucket=world.spec.bucket)
    r = run_check("s3.access")
    assert r.status.value == "fail"
    f = next(f for f in r.findings if "s3.bucket_missing" in f.signals)
    assert f.uid == f"s3.access:bucket_missing:{world.spec.bucket}"
    assert "s3.ok" not in signals(r)


def test_bucket_403_is_access_denied_naming_list_bucket(world) -> None:
    aws = AwsSession("eu-west-1")
    aws._session = fast_session()
    engine = Engine(Config(aws={"region": "eu-west-1"}), [get_check("s3.access")], aws=aws)

    def forbidden(**_: Any) -> None:
        response: Any = {"Error": {"Code": "403", "Message": "Forbidden"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
        raise ClientError(response, "HeadBucket")

    engine.aws.client("s3").meta.events.register("before-call.s3.HeadBucket", forbidden)
    r = asyncio.run(engine.run()).check("s3.access")
    assert r is not None and r.status.value == "unknown" and r.unlock == "s3:ListBucket"
    f = next(f for f in r.findings if "s3.access_denied" in f.signals)
    assert "s3:ListBucket" in f.title and "s3.bucket_missing" not in signals(r)


def test_nat_alone_is_a_path(world, moto_session) -> None:
    drop_s3_endpoint(moto_session, world)
    r = run_check("s3.access")
    assert r.status.value == "pass"
    ok = next(f for f in r.findings if f.signals == ["s3.ok"])
    assert {p["path"] for p in ok.evidence["paths"].values()} == {"nat"}


def test_no_nat_and_no_endpoint_is_no_path(world, moto_session) -> None:
    drop_s3_endpoint(moto_session, world)
    drop_nat_route(moto_session, world)
    r = run_check("s3.access")
    assert r.status.value == "fail"
    f = next(f for f in r.findings if "s3.no_network_path" in f.signals)
    assert f.evidence["route_tables"] == [world.route_table]
    assert sorted(f.evidence["services"]) == sorted(world.services.values())
    assert world.route_table in f.remediation


def test_subnets_on_main_table_without_route(world, moto_session) -> None:
    client = ec2(moto_session)
    table = client.describe_route_tables(RouteTableIds=[world.route_table])["RouteTables"][0]
    for assoc in table["Associations"]:
        client.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
    r = run_check("s3.access")
    f = next(f for f in r.findings if "s3.no_network_path" in f.signals)
    main = [t for t in client.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [world.vpc_id]}])
            ["RouteTables"] if any(a.get("Main") for a in t.get("Associations", []))][0]["RouteTableId"]
    assert f.evidence["route_tables"] == [main]


def test_ec2_denied_is_unknown_but_bucket_checked(world) -> None:
    r = run_check("s3.access", deny={"ec2": ["DescribeRouteTables"]})
    assert r.status.value == "unknown" and r.unlock == "ec2:DescribeRouteTables"
    assert "s3.ok" in signals(r)


def test_ssm_denied_still_checks_the_network_path(world, moto_session) -> None:
    drop_s3_endpoint(moto_session, world)
    ec2(moto_session).delete_route(RouteTableId=world.route_table, DestinationCidrBlock="0.0.0.0/0")
    r = run_check("s3.access", deny={"ssm": ["GetParametersByPath"]})
    assert r.unlock == "ssm:GetParametersByPath"
    assert "s3.no_network_path" in signals(r) and r.status.value == "fail"
