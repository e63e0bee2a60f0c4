"""reach.aurora end to end: sim world (moto) + real MariaDB writer / read-only reader + local transport."""

from __future__ import annotations

import pytest
from probe_support import by_vantage, laravel_root, path_without_php, run_checks, world_config

from doctor.connect import mysql_check
from doctor.facts import DbTarget
from doctor.model import CheckStatus
from doctor.sim.world import WorldSpec, build_world

SERVICES = ["propertyfeedtemplate-sync", "propertyfeedtemplate-image", "propertyfeedtemplate-bulk"]
TASKS = {f"task:{s}" for s in SERVICES}


def _world(moto_session, db, **kw):
    return build_world(moto_session, WorldSpec(db_port=db.port, db_name=db.database, db_username=db.user,
                                               db_password=db.password, **kw))


def _signals(check):
    return {v: f.signals for v, f in by_vantage(check).items()}


@pytest.mark.parametrize("php", [True, False], ids=["php", "sh"])
def test_writer_is_ok_from_every_task_and_the_host(php, moto_session, mariadb, dns_server, tmp_path,
                                                   monkeypatch) -> None:
    if not php:
        monkeypatch.setenv("PATH", path_without_php())
    w = _world(moto_session, mariadb)
    c = run_checks(world_config(w, dns_server, laravel_root(tmp_path)), ["reach.aurora"]).check("reach.aurora")
    assert c.status == CheckStatus.passed, c
    assert _signals(c) == {v: ["reach.aurora_ok"] for v in TASKS | {"host"}}
    task = by_vantage(c)["task:propertyfeedtemplate-image"].evidence
    assert task["greeting"] == "ok" and task["protocol"] == 10 and "MariaDB" in task["version"]
    host = by_vantage(c)["host"].evidence
    assert host["login"] == "ok" and host["innodb_read_only"] == 0
    assert "aurora_server_id" not in host  # plain MariaDB: no Aurora variables, and no error either


def test_reader_endpoint_is_reported_as_reader(moto_session, mariadb, mariadb_reader, dns_server, tmp_path) -> None:
    w = _world(moto_session, mariadb_reader)
    c = run_checks(world_config(w, dns_server, laravel_root(tmp_path)), ["reach.aurora"]).check("reach.aurora")
    host = by_vantage(c)["host"]
    assert host.signals == ["reach.aurora_reader"] and host.evidence["innodb_read_only"] == 1
    assert c.status == CheckStatus.fail


def test_wrong_password_is_auth_failed(moto_session, mariadb, dns_server, tmp_path) -> None:
    w = _world(moto_session, mariadb)
    moto_session.client("ssm").put_parameter(Name=w.param("DB_PASSWORD"), Value="not-the-db-password",
                                             Type="SecureString", Overwrite=True)
    c = run_checks(world_config(w, dns_server, laravel_root(tmp_path)), ["reach.aurora"]).check("reach.aurora")
    host = by_vantage(c)["host"]
    assert host.signals == ["reach.aurora_auth_failed"] and "1045" in host.detail
    assert "not-the-db-password" not in c.model_dump_json()
    # the greeting from the tasks still works: the network path is fine
    assert all(by_vantage(c)[t].signals == ["reach.aurora_ok"] for t in TASKS)


def test_refused_and_unresolvable(moto_session, mariadb, refused_port, unresolvable_name, dns_server,
                                  tmp_path) -> None:
    w = _world(moto_session, mariadb)
    ssm = moto_session.client("ssm")
    cfg = world_config(w, dns_server, laravel_root(tmp_path))
    ssm.put_parameter(Name=w.param("DB_PORT"), Value=str(refused_port), Type="String", Overwrite=True)
    # the task definitions carry DB_PORT in their environment; the host reads SSM
    c = run_checks(cfg, ["reach.aurora"]).check("reach.aurora")
    assert by_vantage(c)["host"].signals == ["reach.aurora_refused"]
    ssm.put_parameter(Name=w.param("DB_HOST"), Value=unresolvable_name, Type="String", Overwrite=True)
    c = run_checks(cfg, ["reach.aurora"]).check("reach.aurora")
    assert _signals(c) == {v: ["reach.aurora_dns_failed"] for v in TASKS | {"host"}}


def test_mysql_check_direct_against_servers(mariadb, mariadb_reader, blackhole) -> None:
    def t(port, pw=mariadb.password):
        return DbTarget("127.0.0.1", port, mariadb.database, mariadb.user, pw, "config")

    assert mysql_check(t(mariadb.port)).outcome == "ok"
    assert mysql_check(t(mariadb_reader.port)).outcome == "reader"
    assert mysql_check(t(mariadb.port, "nope")).outcome == "auth_failed"
    assert mysql_check(t(blackhole.port), timeout=1).outcome == "timeout"
    greet_only = mysql_check(DbTarget("127.0.0.1", mariadb.port, None, None, None, "config"))
    assert greet_only.outcome == "ok" and greet_only.info["login"] == "skipped"
