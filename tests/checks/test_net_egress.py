"""net.egress against the moto world: NAT, VPC endpoints, endpoint SGs, private DNS, VPC DNS attributes."""

from __future__ import annotations

from typing import Any

from support import netcheck as _netcheck
from support.netcheck import run_check, signals

moto_session = _netcheck.moto_session  # overrides conftest's: same world, shared botocore loader (fast)

INTERFACE = ("ecr.api", "ecr.dkr", "logs", "ssm", "ssmmessages")


def ec2(session: Any) -> Any:
    return session.client("ec2", region_name="eu-west-1")


def drop_nat_route(session: Any, world: Any) -> None:
    ec2(session).delete_route(RouteTableId=world.route_table, DestinationCidrBlock="0.0.0.0/0")


def add_interface_endpoints(session: Any, world: Any, sg: str, private_dns: bool = True,
                            services: tuple[str, ...] = INTERFACE) -> list[str]:
    ids = []
    for svc in services:
        ids.append(ec2(session).create_vpc_endpoint(
            VpcId=world.vpc_id, ServiceName=f"com.amazonaws.eu-west-1.{svc}", VpcEndpointType="Interface",
            SubnetIds=list(world.worker_subnets), SecurityGroupIds=[sg], PrivateDnsEnabled=private_dns,
        )["VpcEndpoint"]["VpcEndpointId"])
    return ids


def test_healthy_world_passes(world) -> None:
    r = run_check("net.egress")
    assert r.status.value == "pass", r
    ok = next(f for f in r.findings if f.signals == ["net.ok"])
    assert ok.evidence["paths"]["s3"] == {sn: "gateway-endpoint" for sn in world.worker_subnets}
    assert ok.evidence["paths"]["ecr.dkr"] == {sn: "nat" for sn in world.worker_subnets}


def test_no_nat_route(world, moto_session) -> None:
    drop_nat_route(moto_session, world)
    r = run_check("net.egress")
    assert r.status.value == "fail"
    sig = signals(r)
    assert {"net.no_path_ecr", "net.no_path_logs", "net.no_path_ssm", "net.no_path_ssmmessages"} <= sig
    assert "net.no_path_s3" not in sig  # the S3 gateway endpoint is still on the route table
    f = next(f for f in r.findings if f.uid == "net.egress:no_path_ssmmessages:ssmmessages")
    assert f.evidence["route_tables"] == [world.route_table]
    assert "com.amazonaws.eu-west-1.ssmmessages" in f.remediation


def test_interface_endpoints_replace_nat(world, moto_session) -> None:
    drop_nat_route(moto_session, world)
    add_interface_endpoints(moto_session, world, world.endpoint_sg)
    r = run_check("net.egress")
    assert r.status.value == "pass", r.findings
    ok = next(f for f in r.findings if f.signals == ["net.ok"])
    assert set(ok.evidence["paths"]["ssm"].values()) == {"interface-endpoint"}


def test_endpoint_sg_not_admitting_workers(world, moto_session) -> None:
    drop_nat_route(moto_session, world)
    closed = ec2(moto_session).create_security_group(GroupName="ame-endpoints-closed", Description="closed",
                                                     VpcId=world.vpc_id)["GroupId"]
    add_interface_endpoints(moto_session, world, world.endpoint_sg, services=("ecr.api", "ecr.dkr", "logs", "ssm"))
    add_interface_endpoints(moto_session, world, closed, services=("ssmmessages",))
    r = run_check("net.egress")
    f = next(f for f in r.findings if "net.no_path_ssmmessages" in f.signals)
    assert "net.endpoint_sg_blocked" in f.signals
    assert signals(r) >= {"net.no_path_ssmmessages"} and "net.no_path_ssm" not in signals(r)


def test_private_dns_disabled_without_nat(world, moto_session) -> None:
    drop_nat_route(moto_session, world)
    add_interface_endpoints(moto_session, world, world.endpoint_sg, services=("ecr.api", "ecr.dkr", "logs", "ssm"))
    add_interface_endpoints(moto_session, world, world.endpoint_sg, private_dns=False, services=("ssmmessages",))
    r = run_check("net.egress")
    assert "net.no_path_ssmmessages" in signals(r) and "net.endpoint_private_dns_disabled" in signals(r)


def test_vpc_dns_disabled(world, moto_session) -> None:
    ec2(moto_session).modify_vpc_attribute(VpcId=world.vpc_id, EnableDnsHostnames={"Value": False})
    r = run_check("net.egress")
    f = next(f for f in r.findings if "net.vpc_dns_disabled" in f.signals)
    assert f.evidence["EnableDnsHostnames"] is False and f.evidence["EnableDnsSupport"] is True
    assert "--enable-dns-hostnames" in f.remediation


def test_worker_egress_443_blocked(world, moto_session) -> None:
    ec2(moto_session).revoke_security_group_egress(GroupId=world.worker_sg, IpPermissions=[{
        "IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    r = run_check("net.egress")
    assert "net.worker_egress_blocked" in signals(r) and r.status.value == "fail"


def test_igw_route_without_public_ip_is_no_path(world, moto_session) -> None:
    client = ec2(moto_session)
    igw = client.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [world.vpc_id]}])[
        "InternetGateways"][0]["InternetGatewayId"]
    drop_nat_route(moto_session, world)
    client.create_route(RouteTableId=world.route_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    r = run_check("net.egress")
    f = next(f for f in r.findings if "net.no_path_logs" in f.signals)
    assert "assignPublicIp DISABLED" in f.detail


def test_endpoints_denied_is_unknown(world) -> None:
    r = run_check("net.egress", deny={"ec2": ["DescribeVpcEndpoints"]})
    assert r.status.value == "unknown" and r.unlock == "ec2:DescribeVpcEndpoints"


def test_cli_end_to_end_network_checks(moto_endpoint, cli, dns_server, tmp_path) -> None:
    """One CLI run against the moto HTTP server world (AWS_ENDPOINT_URL), healthy, then with faults."""
    import json

    import boto3

    from doctor.sim.world import build_world

    session = boto3.Session(region_name="eu-west-1")
    w = build_world(session)
    inst = w.db_instance_endpoints["ame-aurora-1"]
    dns_server.set(w.db_writer_endpoint, "CNAME", inst)
    dns_server.set(w.db_reader_endpoint, "CNAME", inst)
    dns_server.set(inst, "A", "127.0.0.1")
    dns_server.set(w.redis_host, "A", "127.0.0.2")
    cfg = tmp_path / "ame-doctor.toml"
    cfg.write_text(f'[aws]\nregion = "eu-west-1"\n[dns]\nnameservers = ["{dns_server.nameserver}"]\n')
    only = ["--only", "sg.ingress,dns.resolve,s3.access,net.egress"]

    healthy = cli("run", "--config", str(cfg), *only, "--format", "json")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    report = json.loads(healthy.stdout)
    assert {c["id"]: c["status"] for c in report["checks"]} == {
        "sg.ingress": "pass", "dns.resolve": "pass", "s3.access": "pass", "net.egress": "pass"}

    client = session.client("ec2")
    perms = client.describe_security_groups(GroupIds=[w.redis_sg])["SecurityGroups"][0]["IpPermissions"]
    client.revoke_security_group_ingress(GroupId=w.redis_sg, IpPermissions=perms)
    client.delete_route(RouteTableId=w.route_table, DestinationCidrBlock="0.0.0.0/0")
    session.client("ssm").put_parameter(Name=w.param("DB_HOST"), Value=w.db_reader_endpoint, Type="String",
                                        Overwrite=True)
    faulty = cli("run", "--config", str(cfg), *only, "--format", "json")
    assert faulty.returncode == 1, faulty.stderr
    report = json.loads(faulty.stdout)
    by_id = {c["id"]: c for c in report["checks"]}
    assert [c["id"] for c in report["checks"]] == ["sg.ingress", "dns.resolve", "s3.access", "net.egress"]
    sig = {cid: {s for f in c["findings"] for s in f["signals"]} for cid, c in by_id.items()}
    assert by_id["sg.ingress"]["status"] == "fail" and "sg.redis_ingress_missing" in sig["sg.ingress"]
    assert "sg.aurora_ok" in sig["sg.ingress"]
    assert by_id["dns.resolve"]["status"] == "fail" and "dns.db_host_not_writer" in sig["dns.resolve"]
    assert by_id["s3.access"]["status"] == "pass"  # the gateway endpoint still serves S3
    assert by_id["net.egress"]["status"] == "fail" and "net.no_path_ecr" in sig["net.egress"]
