from __future__ import annotations

import asyncio
import json

from doctor.config import Config
from doctor.engine import Engine
from doctor.model import CheckStatus
from doctor.registry import all_checks


def test_healthy_world_ssm_values_pass(world) -> None:
    report = asyncio.run(Engine(Config(aws={"region": "eu-west-1"}), all_checks(),).run())
    c = report.check("ssm.values")
    assert c is not None and c.status == CheckStatus.passed, c


def test_cli_run_against_moto_server(moto_endpoint, cli) -> None:
    import boto3

    from doctor.sim.world import build_world

    build_world(boto3.Session(region_name="eu-west-1"))
    res = cli("run", "--only", "ssm.values", "--format", "json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["checks"][0]["status"] == "pass"


def test_redis_and_mariadb_fixtures(redis_server, mariadb, mariadb_reader) -> None:
    assert redis_server.client().ping()
    with mariadb_reader.connect().cursor() as cur:
        cur.execute("SELECT @@innodb_read_only")
        assert cur.fetchone()[0] == 1
