"""reach.aurora end to end: real MariaDB writer / read-only reader, local transport."""

from __future__ import annotations

from doctor.config import Config
from doctor.facts import DbTarget
from doctor.model import CheckStatus
from doctor.net.hostprobe import mysql_check
from doctor.sim.world import WorldSpec, build_world

from support.probe import by_vantage, laravel_root, path_without_php, run_checks, world_config

SERVICES = ["propertyfeedtemplate-sync", "propertyfeedtemplate-image", "propertyfeedtemplate-bulk"]
TASKS = {f"task:{s}" for s in SERVICES}


def _signals(check):
    return {v: f.signals for v, f in by_vantage(check).items()}


def _direct(tmp_path, db, host: str = "127.0.0.1", port: int | None = None) -> Config:
    return Config(aws={"region": "eu-west-1"},
                  database={"host": host, "port": port or db.port, "database": db.database, "username": db.user,
                            "password": db.password},
                  exec={"transport": "local", "timeout": 6, "app_root": str(laravel_root(tmp_path))})


def test_writer_is_ok_from_every_task_and_the_host(moto_session, mariadb, dns_server, tmp_path, monkeypatch) -> None:
    w = build_world(moto_session, WorldSpec(db_port=mariadb.port, db_name=mariadb.database,
                                            db_username=mariadb.user, db_password=mariadb.password))
    cfg = world_config(w, dns_server, laravel_root(tmp_path))
    for runtime in ("php", "bash"):  # the same world under php-cli, then with PATH stripped of php
        if runtime == "bash":
            monkeypatch.setenv("PATH", path_without_php())
        c = run_checks(cfg, ["reach.aurora"]).check("reach.aurora")
        assert c.status == CheckStatus.passed, c
        assert _signals(c) == {v: ["reach.aurora_ok"] for v in TASKS | {"host"}}
        task = by_vantage(c)["task:propertyfeedtemplate-image"].evidence
        assert task["runtime"] == runtime
        assert task["greeting"] == "ok" and task["protocol"] == 10 and "MariaDB" in task["version"]
        assert task["login"] == ("ok" if runtime == "php" else "no_php")
        host = by_vantage(c)["host"].evidence
        assert host["login"] == "ok" and host["innodb_read_only"] == 0
        assert "aurora_server_id" not in host  # plain MariaDB: no Aurora variables, and no error either
    moto_session.client("ssm").put_parameter(Name=w.param("DB_PASSWORD"), Value="not-the-db-password",
                                             Type="SecureString", Overwrite=True)
    c = run_checks(cfg, ["reach.aurora"]).check("reach.aurora")
    host_f = by_vantage(c)["host"]
    assert host_f.signals == ["reach.aurora_auth_failed"] and "1045" in host_f.detail
    assert "not-the-db-password" not in c.model_dump_json()
    # PATH is still without php: the tasks only read the greeting, so the path itself is fine
    assert all(by_vantage(c)[t].signals == ["reach.aurora_ok"] for t in TASKS)


def test_reader_endpoint_is_reported_as_reader_from_the_host_and_from_every_task(
        moto_session, mariadb_reader, dns_server, tmp_path, monkeypatch) -> None:
    """DB_HOST (SSM) names a read-only server: the tasks log in with their own DB_USERNAME / DB_PASSWORD and
    see it too, so 'tasks: reader 3/3; host: reader' (it was 'tasks: ok 3/3; host: reader')."""
    w = build_world(moto_session, WorldSpec(db_port=mariadb_reader.port, db_name=mariadb_reader.database,
                                            db_username=mariadb_reader.user, db_password=mariadb_reader.password))
    cfg = world_config(w, dns_server, laravel_root(tmp_path))
    c = run_checks(cfg, ["reach.aurora"]).check("reach.aurora")
    assert _signals(c) == {v: ["reach.aurora_reader"] for v in TASKS | {"host"}}
    assert c.summary == "tasks: reader 3/3; host: reader" and c.status == CheckStatus.fail
    task = by_vantage(c)["task:propertyfeedtemplate-image"]
    assert task.severity.value == "error" and task.evidence["login"] == "ok" and task.evidence["driver"] == "pdo_mysql"
    assert task.evidence["innodb_read_only"] == 1 and "read-only" in task.detail
    assert by_vantage(c)["host"].evidence["innodb_read_only"] == 1
    monkeypatch.setenv("PATH", path_without_php())  # without php the task cannot log in, and says so
    c = run_checks(cfg, ["reach.aurora"]).check("reach.aurora")
    task = by_vantage(c)["task:propertyfeedtemplate-image"]
    assert task.signals == ["reach.aurora_ok"] and "no php" in task.detail
    assert c.summary == "tasks: ok 3/3; host: reader"


def test_credentials_the_task_sends_are_judged_from_the_task(moto_session, mariadb, dns_server, tmp_path) -> None:
    w = build_world(moto_session, WorldSpec(db_port=mariadb.port, db_name=mariadb.database,
                                            db_username=mariadb.user, db_password="not-the-db-password"))
    c = run_checks(world_config(w, dns_server, laravel_root(tmp_path)), ["reach.aurora"]).check("reach.aurora")
    assert _signals(c) == {v: ["reach.aurora_auth_failed"] for v in TASKS | {"host"}}
    assert "1045" in by_vantage(c)["task:propertyfeedtemplate-sync"].detail
    assert "not-the-db-password" not in c.model_dump_json()


def test_refused_and_unresolvable(moto_session, mariadb, refused_port, unresolvable_name, tmp_path) -> None:
    c = run_checks(_direct(tmp_path, mariadb, port=refused_port), ["reach.aurora"]).check("reach.aurora")
    assert _signals(c) == {v: ["reach.aurora_refused"] for v in TASKS | {"host"}}
    c = run_checks(_direct(tmp_path, mariadb, host=unresolvable_name), ["reach.aurora"]).check("reach.aurora")
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
