"""sg.ingress against the moto world: healthy, and each way ingress goes wrong."""

from __future__ import annotations

from typing import Any

import pytest

from support import netcheck as _netcheck
from support.netcheck import run_check, signals

moto_session = _netcheck.moto_session  # overrides conftest's: same world, shared botocore loader (fast)


def ec2(moto_session: Any) -> Any:
    return moto_session.client("ec2", region_name="eu-west-1")


def revoke_worker_rule(session: Any, group: str, port: int, worker_sg: str) -> None:
    """Remove the world's rule granting ``port`` from ``worker_sg`` (as described, so moto matches it)."""
    client = ec2(session)
    perms = client.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    mine = [p for p in perms if p.get("FromPort") == port
            and any(g.get("GroupId") == worker_sg for g in p.get("UserIdGroupPairs", []))]
    assert mine, perms
    client.revoke_security_group_ingress(GroupId=group, IpPermissions=mine)
    left = client.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    assert not [p for p in left if p.get("FromPort") == port]


def test_healthy_world_passes(world) -> None:
    r = run_check("sg.ingress")
    assert r.status.value == "pass", r
    assert {"sg.redis_ok", "sg.aurora_ok"} <= signals(r)
    redis_ok = next(f for f in r.findings if "sg.redis_ok" in f.signals)
    assert redis_ok.evidence["data_security_groups"] == [world.redis_sg]
    assert redis_ok.evidence["port"] == 6379  # from AWS, not SSM


def test_no_rule_at_all(world, moto_session) -> None:
    revoke_worker_rule(moto_session, world.redis_sg, 6379, world.worker_sg)
    r = run_check("sg.ingress")
    assert r.status.value == "fail"
    f = next(f for f in r.findings if f.uid.startswith("sg.ingress:redis_no_rule:"))
    assert f.signals == ["sg.redis_ingress_missing"]
    assert world.redis_sg in f.remediation and world.worker_sg in f.remediation
    assert "sg.aurora_ok" in signals(r)


def test_rule_for_old_sg(world, moto_session) -> None:
    client = ec2(moto_session)
    old = client.create_security_group(GroupName="ame-worker-ec2-old", Description="old", VpcId=world.vpc_id)["GroupId"]
    revoke_worker_rule(moto_session, world.aurora_sg, 3306, world.worker_sg)
    client.authorize_security_group_ingress(GroupId=world.aurora_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "UserIdGroupPairs": [{"GroupId": old}]}])
    r = run_check("sg.ingress")
    f = next(f for f in r.findings if f.uid.startswith("sg.ingress:aurora_old_sg:"))
    assert "sg.aurora_ingress_missing" in f.signals and "sg.old_sg_reference" in f.signals
    assert f.evidence["referenced_security_groups"] == [old]
    assert "sg.old_ip_rules_only" not in f.signals
    assert r.status.value == "fail"


def test_only_old_ip_rules(world, moto_session) -> None:
    revoke_worker_rule(moto_session, world.aurora_sg, 3306, world.worker_sg)
    ec2(moto_session).authorize_security_group_ingress(GroupId=world.aurora_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306,
        "IpRanges": [{"CidrIp": "10.20.50.11/32"}, {"CidrIp": "10.20.50.12/32"}]}])
    r = run_check("sg.ingress")
    f = next(f for f in r.findings if f.uid.startswith("sg.ingress:aurora_old_ips:"))
    assert {"sg.old_ip_rules_only", "sg.aurora_ingress_missing"} <= set(f.signals)
    assert f.evidence["outside_cidrs"] == ["10.20.50.11/32", "10.20.50.12/32"]


def test_cidr_covering_all_worker_subnets_is_ok(world, moto_session) -> None:
    revoke_worker_rule(moto_session, world.redis_sg, 6379, world.worker_sg)
    ec2(moto_session).authorize_security_group_ingress(GroupId=world.redis_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 6000, "ToPort": 7000, "IpRanges": [{"CidrIp": "10.20.0.0/16"}]}])
    r = run_check("sg.ingress")
    assert "sg.redis_ok" in signals(r) and r.status.value == "pass"


def test_cidr_covering_one_subnet_is_partial(world, moto_session) -> None:
    revoke_worker_rule(moto_session, world.redis_sg, 6379, world.worker_sg)
    ec2(moto_session).authorize_security_group_ingress(GroupId=world.redis_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379, "IpRanges": [{"CidrIp": "10.20.1.0/24"}]}])
    r = run_check("sg.ingress")
    f = next(f for f in r.findings if f.uid.startswith("sg.ingress:redis_partial:"))
    assert f.evidence["uncovered_subnets"] == [world.worker_subnets[1]]
    assert "sg.redis_ingress_missing" in f.signals


def test_protocol_all_from_worker_sg_is_ok(world, moto_session) -> None:
    revoke_worker_rule(moto_session, world.redis_sg, 6379, world.worker_sg)
    ec2(moto_session).authorize_security_group_ingress(GroupId=world.redis_sg, IpPermissions=[{
        "IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": world.worker_sg}]}])
    assert "sg.redis_ok" in signals(run_check("sg.ingress"))


def test_worker_sg_on_wrong_port_is_no_rule(world, moto_session) -> None:
    revoke_worker_rule(moto_session, world.redis_sg, 6379, world.worker_sg)
    ec2(moto_session).authorize_security_group_ingress(GroupId=world.redis_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 6380, "ToPort": 6390, "UserIdGroupPairs": [{"GroupId": world.worker_sg}]}])
    f = next(f for f in run_check("sg.ingress").findings if f.uid.startswith("sg.ingress:redis_no_rule:"))
    assert "6380-6390" in f.evidence["worker_sg_rules_on_other_ports"][0]


def test_prefix_list_covering_worker_subnets_is_ok(world, moto_session) -> None:
    client = ec2(moto_session)
    pl = client.create_managed_prefix_list(PrefixListName="ame-workers", MaxEntries=5, AddressFamily="IPv4",
                                           Entries=[{"Cidr": "10.20.1.0/24"}, {"Cidr": "10.20.2.0/24"}])
    revoke_worker_rule(moto_session, world.aurora_sg, 3306, world.worker_sg)
    client.authorize_security_group_ingress(GroupId=world.aurora_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306,
        "PrefixListIds": [{"PrefixListId": pl["PrefixList"]["PrefixListId"]}]}])
    assert "sg.aurora_ok" in signals(run_check("sg.ingress"))


def test_worker_egress_blocked(world, moto_session) -> None:
    ec2(moto_session).revoke_security_group_egress(GroupId=world.worker_sg, IpPermissions=[{
        "IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    r = run_check("sg.ingress")
    assert "sg.worker_egress_blocked" in signals(r)
    assert r.status.value == "fail"


def test_redis_sgs_from_elasticache_enis(world) -> None:
    """moto's describe_cache_clusters has no SecurityGroups: the ENIs must be what finds the SG."""
    r = run_check("sg.ingress")
    f = next(f for f in r.findings if "sg.redis_ok" in f.signals)
    assert "DescribeNetworkInterfaces" in f.evidence["sg_source"]


def test_access_denied_is_unknown_naming_action(world) -> None:
    r = run_check("sg.ingress", deny={"ec2": ["DescribeSecurityGroups"]})
    assert r.status.value == "unknown"
    assert r.unlock == "ec2:DescribeSecurityGroups"


def test_rds_denied_keeps_redis_part(world) -> None:
    r = run_check("sg.ingress", deny={"rds": ["DescribeDBClusters"]})
    assert "sg.redis_ok" in signals(r)
    assert r.status.value == "unknown" and r.unlock == "rds:DescribeDBClusters"


@pytest.mark.parametrize("port", [6379])
def test_port_comes_from_aws_not_ssm(moto_session, port) -> None:
    from doctor.sim.world import WorldSpec, build_world

    w = build_world(moto_session, WorldSpec(redis_port=16379, db_port=13306))
    r = run_check("sg.ingress")
    assert r.status.value == "pass", r
    assert next(f for f in r.findings if "sg.redis_ok" in f.signals).evidence["port"] == port
    del w


def test_stores_found_through_reader_endpoint_and_cname_alias(world, moto_session, dns_server) -> None:
    """DB_HOST on the reader endpoint still names the cluster; REDIS_HOST as a private CNAME alias is followed."""
    ssm = moto_session.client("ssm", region_name="eu-west-1")
    ssm.put_parameter(Name=world.param("DB_HOST"), Value=world.db_reader_endpoint, Type="String", Overwrite=True)
    ssm.put_parameter(Name=world.param("REDIS_HOST"), Value="redis.ame.internal", Type="String", Overwrite=True)
    dns_server.set("redis.ame.internal", "CNAME", world.redis_host)
    dns_server.set(world.redis_host, "A", "127.0.0.1")
    r = run_check("sg.ingress", dns={"nameservers": [dns_server.nameserver]})
    assert r.status.value == "pass", r
    assert {"sg.redis_ok", "sg.aurora_ok"} <= signals(r)
    aurora = next(f for f in r.findings if "sg.aurora_ok" in f.signals)
    assert aurora.evidence["store"] == world.db_cluster


def test_ssm_denied_with_hosts_in_config_still_checks(world) -> None:
    r = run_check("sg.ingress", deny={"ssm": ["GetParametersByPath"]},
                  redis={"host": world.redis_host}, database={"cluster": world.db_cluster})
    assert r.status.value == "pass", r
    assert {"sg.redis_ok", "sg.aurora_ok"} <= signals(r)
    r = run_check("sg.ingress", deny={"ssm": ["GetParametersByPath"]})
    assert r.status.value == "unknown" and r.unlock == "ssm:GetParametersByPath"


# --- DB_HOST names no live cluster: the account's live cluster(s) are judged instead ------------------------
STALE = "ame-aurora-old.cluster-c0ld0ld0ld.eu-west-1.rds.amazonaws.com"


def stale_db_host(session: Any, world: Any) -> None:
    session.client("ssm", region_name="eu-west-1").put_parameter(Name=world.param("DB_HOST"), Value=STALE,
                                                                  Type="String", Overwrite=True)


def test_stale_db_host_judges_the_accounts_only_cluster(world, moto_session) -> None:
    stale_db_host(moto_session, world)
    r = run_check("sg.ingress")
    assert r.status.value == "warn", r  # not unknown: the live cluster's ingress is judged
    ok = next(f for f in r.findings if "sg.aurora_ok" in f.signals)
    assert ok.evidence["store"] == world.db_cluster and ok.evidence["matched_by"] == "account"
    note = next(f for f in r.findings if f.uid == f"sg.ingress:aurora_db_host_elsewhere:{STALE}")
    assert note.severity.value == "warning" and note.signals == []
    assert note.title == (f"DB_HOST {STALE} is not an endpoint of the account's Aurora cluster(s) {world.db_cluster}: "
                          "their ingress is judged instead")
    assert note.evidence["writer_endpoints"] == {world.db_cluster: world.db_writer_endpoint.lower()}


def test_stale_db_host_still_finds_the_live_clusters_missing_rule(world, moto_session) -> None:
    stale_db_host(moto_session, world)
    revoke_worker_rule(moto_session, world.aurora_sg, 3306, world.worker_sg)
    r = run_check("sg.ingress")
    assert r.status.value == "fail" and "sg.aurora_ingress_missing" in signals(r)
    f = next(f for f in r.findings if f.uid.startswith("sg.ingress:aurora_no_rule:"))
    assert f.evidence["store"] == world.db_cluster and world.aurora_sg in f.remediation


def test_stale_db_host_judges_every_live_cluster_or_the_configured_one(world, moto_session) -> None:
    other = ec2(moto_session).create_security_group(GroupName="reporting-db", Description="reporting",
                                                    VpcId=world.vpc_id)["GroupId"]
    rds = moto_session.client("rds", region_name="eu-west-1")
    rds.create_db_cluster(DBClusterIdentifier="reporting", Engine="aurora-mysql", MasterUsername="admin",
                          MasterUserPassword="admin-password-1", VpcSecurityGroupIds=[other])
    stale_db_host(moto_session, world)
    r = run_check("sg.ingress")
    judged = {f.evidence["store"] for f in r.findings if f.uid.startswith("sg.ingress:aurora_")
              and "store" in f.evidence}
    assert judged == {world.db_cluster, "reporting"}
    assert "sg.aurora_ingress_missing" in signals(r)  # reporting's SG admits no worker
    note = next(f for f in r.findings if f.uid.startswith("sg.ingress:aurora_db_host_elsewhere:"))
    assert note.evidence["evaluated_clusters"] == [world.db_cluster, "reporting"]
    r = run_check("sg.ingress", database={"cluster": world.db_cluster})
    assert r.status.value == "pass", r  # the configured cluster names the store; DB_HOST is not needed


def test_db_host_naming_a_stopped_cluster_judges_the_live_one(world, moto_session) -> None:
    from moto.rds.models import rds_backends

    rds = moto_session.client("rds", region_name="eu-west-1")
    rds.create_db_cluster(DBClusterIdentifier="ame-aurora-new", Engine="aurora-mysql", MasterUsername="admin",
                          MasterUserPassword="admin-password-1", VpcSecurityGroupIds=[world.aurora_sg])
    rds_backends["123456789012"]["eu-west-1"].clusters[world.db_cluster].status = "stopped"
    r = run_check("sg.ingress")
    note = next(f for f in r.findings if f.uid.startswith("sg.ingress:aurora_db_host_elsewhere:"))
    assert note.evidence["named_cluster"] == {"id": world.db_cluster, "status": "stopped"}
    assert note.title.startswith(f"DB_HOST {world.db_writer_endpoint} names cluster {world.db_cluster}, which is "
                                 "stopped")
    ok = next(f for f in r.findings if "sg.aurora_ok" in f.signals)
    assert ok.evidence["store"] == "ame-aurora-new"


# --- remediation safety: a stale rule's source is removed only when nothing uses it today ---------------------
def move_image_to_new_sg(world: Any, session: Any) -> str:
    """The image service is redeployed with its own new SG; sync and bulk keep running with the shared worker SG."""
    new = ec2(session).create_security_group(GroupName="ame-image", Description="image workers",
                                             VpcId=world.vpc_id)["GroupId"]
    session.client("ecs", region_name="eu-west-1").update_service(
        cluster=world.spec.cluster, service=world.services["image"], networkConfiguration={"awsvpcConfiguration": {
            "subnets": world.worker_subnets, "securityGroups": [new], "assignPublicIp": "DISABLED"}})
    return str(new)


def test_shared_worker_sg_in_use_is_kept_and_its_users_named(world, moto_session) -> None:
    """Only image's new SG lacks Redis ingress: the fix grants it and never suggests revoking the shared SG's rule,
    which sync and bulk run with today; it names them (their services and running tasks) instead."""
    new = move_image_to_new_sg(world, moto_session)
    r = run_check("sg.ingress")
    f = next(f for f in r.findings if f.uid.startswith("sg.ingress:redis_old_sg:"))
    assert f.evidence["services"] == ["propertyfeedtemplate-image"], f.evidence
    assert f"--group-id {world.redis_sg} --protocol tcp --port 6379 --source-group {new}" in f.remediation
    assert "revoke" not in f.remediation, f.remediation
    sync, bulk = world.services["sync"], world.services["bulk"]
    assert f"keep the rule for {world.worker_sg}: {bulk}, {sync}, " in f.remediation, f.remediation
    users = f.evidence["source_users"][world.worker_sg]
    assert users["services"] == [bulk, sync]
    assert {u.split("/")[0] for u in users["interfaces"]} >= {f"task {sync}", f"task {bulk}"}, users


def test_unused_old_sg_rule_is_revoked_with_the_exact_command(world, moto_session) -> None:
    client = ec2(moto_session)
    old = client.create_security_group(GroupName="ame-worker-ec2-old", Description="old", VpcId=world.vpc_id)["GroupId"]
    revoke_worker_rule(moto_session, world.aurora_sg, 3306, world.worker_sg)
    client.authorize_security_group_ingress(GroupId=world.aurora_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "UserIdGroupPairs": [{"GroupId": old}]}])
    f = next(f for f in run_check("sg.ingress").findings if f.uid.startswith("sg.ingress:aurora_old_sg:"))
    assert f.remediation.endswith(f"; then nothing uses {old} today, so its rule can go: aws ec2 "
                                  f"revoke-security-group-ingress --group-id {world.aurora_sg} --protocol tcp "
                                  f"--port 3306 --source-group {old}"), f.remediation
    assert f.evidence["source_users"] == {old: {"services": [], "interfaces": []}}


def test_old_ip_rules_kept_for_an_address_in_use(world, moto_session) -> None:
    """Of two /32 rules outside the worker subnets, one is the web tier's app host that still pushes jobs: it is kept
    and named; only the unused one is revoked."""
    client = ec2(moto_session)
    hosts = client.create_subnet(VpcId=world.vpc_id, CidrBlock="10.20.50.0/24")["Subnet"]["SubnetId"]
    app_host = client.create_network_interface(SubnetId=hosts, PrivateIpAddress="10.20.50.11",
                                               Description="web tier app host")["NetworkInterface"]
    revoke_worker_rule(moto_session, world.redis_sg, 6379, world.worker_sg)
    client.authorize_security_group_ingress(GroupId=world.redis_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379,
        "IpRanges": [{"CidrIp": "10.20.50.11/32"}, {"CidrIp": "10.20.50.12/32"}]}])
    f = next(f for f in run_check("sg.ingress").findings if f.uid.startswith("sg.ingress:redis_old_ips:"))
    eni = app_host["NetworkInterfaceId"]
    assert (f"keep the rule for 10.20.50.11/32: {eni} (web tier app host, 10.20.50.11) use it today"
            in f.remediation), f.remediation
    assert "--port 6379 --cidr 10.20.50.11/32" not in f.remediation
    assert f.remediation.endswith(f"revoke-security-group-ingress --group-id {world.redis_sg} --protocol tcp "
                                  "--port 6379 --cidr 10.20.50.12/32"), f.remediation


def test_interfaces_unreadable_suggests_listing_them_not_revoking(world, moto_session) -> None:
    client = ec2(moto_session)
    old = client.create_security_group(GroupName="ame-worker-ec2-old", Description="old", VpcId=world.vpc_id)["GroupId"]
    revoke_worker_rule(moto_session, world.aurora_sg, 3306, world.worker_sg)
    client.authorize_security_group_ingress(GroupId=world.aurora_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "UserIdGroupPairs": [{"GroupId": old}]}])
    # (the Redis SGs are read from ElastiCache's interfaces: Aurora's come from RDS and are still judged)
    r = run_check("sg.ingress", deny={"ec2": ["DescribeNetworkInterfaces"]})
    f = next(f for f in r.findings if f.uid.startswith("sg.ingress:aurora_old_sg:"))
    assert "revoke" not in f.remediation, f.remediation
    assert (f"keep the rule for {old} until you know what uses it (the network interfaces could not be listed: "
            f"ec2:DescribeNetworkInterfaces denied): aws ec2 describe-network-interfaces --filters "
            f"Name=group-id,Values={old}") in f.remediation, f.remediation
