"""dns.resolve against the moto world and a loopback DNS server serving CNAME chains."""

from __future__ import annotations

from typing import Any

import pytest

from support import netcheck as _netcheck
from support.netcheck import run_check, signals

moto_session = _netcheck.moto_session  # overrides conftest's: same world, shared botocore loader (fast)


def put(session: Any, world: Any, key: str, value: str) -> None:
    session.client("ssm", region_name="eu-west-1").put_parameter(
        Name=world.param(key), Value=value, Type="String", Overwrite=True)


@pytest.fixture
def dns_world(world, dns_server) -> Any:
    """Real-AWS-shaped DNS: cluster endpoints CNAME to instance endpoints, which have A records."""
    inst1, inst2 = world.db_instance_endpoints["ame-aurora-1"], world.db_instance_endpoints["ame-aurora-2"]
    dns_server.set(world.db_writer_endpoint, "CNAME", inst1)
    dns_server.set(world.db_reader_endpoint, "CNAME", inst2)
    dns_server.set(inst1, "A", "127.0.0.1")
    dns_server.set(inst2, "A", "127.0.0.2")
    dns_server.set(world.redis_host, "A", "127.0.0.3")
    return world


def check(dns_server: Any) -> Any:
    return run_check("dns.resolve", dns={"nameservers": [dns_server.nameserver]})


def test_healthy_world_passes(dns_world, dns_server) -> None:
    r = check(dns_server)
    assert r.status.value == "pass", r
    assert signals(r) == {"dns.db_ok", "dns.redis_ok"}
    db = next(f for f in r.findings if "dns.db_ok" in f.signals)
    assert db.evidence["cname_chain"] == [dns_world.db_writer_endpoint.lower(),
                                          dns_world.db_instance_endpoints["ame-aurora-1"].lower()]
    assert db.evidence["addresses"] == ["127.0.0.1"]


def test_private_alias_to_writer_is_ok(dns_world, dns_server, moto_session) -> None:
    dns_server.set("db.ame.internal", "CNAME", dns_world.db_writer_endpoint)
    put(moto_session, dns_world, "DB_HOST", "db.ame.internal")
    assert "dns.db_ok" in signals(check(dns_server))


def test_reader_endpoint(dns_world, dns_server, moto_session) -> None:
    put(moto_session, dns_world, "DB_HOST", dns_world.db_reader_endpoint)
    r = check(dns_server)
    f = next(f for f in r.findings if f.uid.startswith("dns.resolve:db_not_writer:"))
    assert f.signals == ["dns.db_host_not_writer"] and f.evidence["role"] == "reader"
    assert dns_world.db_writer_endpoint in f.remediation
    assert r.status.value == "fail"


def test_alias_chain_ending_at_reader(dns_world, dns_server, moto_session) -> None:
    dns_server.set("db.ame.internal", "CNAME", dns_world.db_reader_endpoint)
    put(moto_session, dns_world, "DB_HOST", "db.ame.internal")
    f = next(f for f in check(dns_server).findings if "dns.db_host_not_writer" in f.signals)
    assert f.evidence["matched"] == dns_world.db_reader_endpoint.lower()


def test_instance_endpoint(dns_world, dns_server, moto_session) -> None:
    put(moto_session, dns_world, "DB_HOST", dns_world.db_instance_endpoints["ame-aurora-1"])
    f = next(f for f in check(dns_server).findings if f.uid.startswith("dns.resolve:db_not_writer:"))
    assert f.evidence["role"] == "instance" and f.evidence["instance_is_writer_now"] is True


def test_deleted_cluster_is_stale(dns_world, dns_server, moto_session) -> None:
    stale = "ame-aurora-old.cluster-zzzzzzzzzzzz.eu-west-1.rds.amazonaws.com"
    put(moto_session, dns_world, "DB_HOST", stale)
    r = check(dns_server)
    assert {"dns.db_host_stale", "dns.db_host_nxdomain"} <= signals(r)
    assert "dns.db_ok" not in signals(r)


def test_literal_ip(dns_world, dns_server, moto_session) -> None:
    put(moto_session, dns_world, "DB_HOST", "10.20.10.7")
    f = next(f for f in check(dns_server).findings if f.uid.startswith("dns.resolve:db_literal_ip:"))
    assert "dns.db_host_not_writer" in f.signals


def test_nxdomain_timeout_no_answer_distinguished(dns_world, dns_server, moto_session) -> None:
    dns_server.set("db.ame.internal", "CNAME", "gone.ame.internal")        # dangling alias
    put(moto_session, dns_world, "DB_HOST", "db.ame.internal")
    dns_server.silent.add(dns_world.redis_host.lower() + ".")             # never answered
    r = check(dns_server)
    sig = signals(r)
    assert "dns.db_host_no_answer" in sig and "dns.redis_host_timeout" in sig
    assert "dns.redis_ok" not in sig and "dns.db_ok" not in sig  # identity right, but not resolvable: not ok
    f = next(f for f in r.findings if "dns.db_host_no_answer" in f.signals)
    assert f.evidence["cname_chain"] == ["db.ame.internal", "gone.ame.internal"]
    put(moto_session, dns_world, "DB_HOST", "nothing.ame.internal")
    assert "dns.db_host_nxdomain" in signals(check(dns_server))


def test_redis_reader_and_node_endpoints(dns_world, dns_server, moto_session) -> None:
    rg = moto_session.client("elasticache", region_name="eu-west-1").describe_replication_groups()
    node = rg["ReplicationGroups"][0]["NodeGroups"][0]["NodeGroupMembers"][0]["ReadEndpoint"]["Address"]
    dns_server.set(node, "A", "127.0.0.4")
    put(moto_session, dns_world, "REDIS_HOST", node)
    f = next(f for f in check(dns_server).findings if f.uid.startswith("dns.resolve:redis_not_primary:"))
    assert f.evidence["role"] == "node" and dns_world.redis_host in f.remediation


def test_redis_stale(dns_world, dns_server, moto_session) -> None:
    put(moto_session, dns_world, "REDIS_HOST", "master.ame-redis-old.abc123.euw1.cache.amazonaws.com")
    r = check(dns_server)
    assert "dns.redis_host_stale" in signals(r) and "dns.redis_ok" not in signals(r)


def test_rds_denied_is_unknown_but_resolution_still_reported(dns_world, dns_server) -> None:
    r = run_check("dns.resolve", deny={"rds": ["DescribeDBClusters"]}, dns={"nameservers": [dns_server.nameserver]})
    assert r.status.value == "unknown" and r.unlock == "rds:DescribeDBClusters"
    assert "dns.redis_ok" in signals(r)


def test_ssm_denied_names_the_action(dns_world, dns_server) -> None:
    r = run_check("dns.resolve", deny={"ssm": ["GetParametersByPath"]}, dns={"nameservers": [dns_server.nameserver]})
    assert r.status.value == "unknown" and r.unlock == "ssm:GetParametersByPath"
    assert not r.findings
