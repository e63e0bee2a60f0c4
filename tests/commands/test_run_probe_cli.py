"""`ame-doctor run --exec local` end to end: the CLI against moto's HTTP server, real Redis and MariaDB."""

from __future__ import annotations

import json

from support.probe import laravel_root


def test_cli_exec_local_proves_reachability_from_the_task_vantage(moto_endpoint, redis_server, mariadb, dns_server,
                                                                   cli, tmp_path) -> None:
    import boto3

    from doctor.sim.world import WorldSpec, build_world

    w = build_world(boto3.Session(region_name="eu-west-1"), WorldSpec(
        redis_port=redis_server.port, db_port=mariadb.port, db_name=mariadb.database, db_username=mariadb.user,
        db_password=mariadb.password))
    dns_server.set(w.redis_host, "A", "127.0.0.1")
    dns_server.set(w.db_writer_endpoint, "A", "127.0.0.1")
    cfg = tmp_path / "ame-doctor.toml"
    cfg.write_text(f"""
[aws]
region = "eu-west-1"
[dns]
nameservers = ["{dns_server.nameserver}"]
[exec]
transport = "ecs-exec"
timeout = 12
app_root = "{laravel_root(tmp_path)}"
""")
    res = cli("run", "--config", str(cfg), "--exec", "local", "--only", "reach.redis,reach.aurora",
              "--format", "json")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    report = json.loads(res.stdout)
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["reach.redis"]["status"] == "pass" and checks["reach.aurora"]["status"] == "pass"
    vantages = {f["evidence"]["vantage"] for f in checks["reach.redis"]["findings"]}
    assert vantages == {"host", "task:propertyfeedtemplate-sync", "task:propertyfeedtemplate-image",
                        "task:propertyfeedtemplate-bulk"}
    assert mariadb.password not in res.stdout
