"""queue.state tests that change the moto world itself: worker commands through new task definition revisions,
a platform with no running task, and the CLI end to end against moto's HTTP server."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from doctor.sim.world import WorldSpec, build_world

from support.ecs_helpers import REGION, kinds, run_check
from support.queues import PREFIX, check, finding, job, new_revision


@pytest.fixture
def qworld(moto_session: Any, redis_clean: Any, mariadb: Any, dns_server: Any) -> dict[str, Any]:
    """The moto world pointing at the real Redis and MariaDB; hosts resolve only via the test DNS server."""
    w = build_world(moto_session, WorldSpec(redis_port=redis_clean.port, db_port=mariadb.port))
    dns_server.set(w.redis_host, "A", "127.0.0.1")
    dns_server.set(w.db_writer_endpoint, "A", "127.0.0.1")
    return {"world": w, "redis": redis_clean, "db": mariadb, "dns": {"nameservers": [dns_server.nameserver]},
            "session": moto_session}


def test_routing_from_task_definitions(qworld: dict[str, Any]) -> None:
    s = qworld["session"]
    new_revision(s, "propertyfeedtemplate-sync", ["php", "artisan", "queue:work", "sync", "--tries=3"])
    new_revision(s, "propertyfeedtemplate-bulk", ["php", "artisan", "queue:work", "redis", "--queue=default,image",
                                                  "--timeout=120", "--tries=5", "--max-jobs=100"])
    ssm = s.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=qworld["world"].param("REDIS_QUEUE_RETRY_AFTER"), Value="75", Type="String",
                      Overwrite=True)
    r = check(qworld)
    assert finding(r, "sync_connection_trap", "propertyfeedtemplate-sync").severity.value == "critical"
    assert "queue.default_in_heavy_path" in finding(r, "default_in_heavy_path", "propertyfeedtemplate-bulk").signals
    t = finding(r, "timeout_ge_retry_after", "propertyfeedtemplate-bulk")
    assert t.evidence["timeout_s"] == 120 and t.evidence["retry_after_s"] == 75  # from SSM
    assert "queue.unrouted" in finding(r, "unrouted", "bulk").signals
    assert "queue.unrouted" in finding(r, "unrouted", "sync").signals
    assert finding(r, "shared_consumer", "image").evidence["consumed_by"] == [
        "propertyfeedtemplate-image", "propertyfeedtemplate-bulk"]
    w = finding(r, "worker", "propertyfeedtemplate-bulk")
    assert (w.evidence["tries"], w.evidence["max_jobs"], w.evidence["memory_mb"]) == (5, 100, 128)
    assert w.evidence["task_definition"] == "propertyfeedtemplate-bulk:2"
    assert "queue.state:timeout_ge_retry_after:propertyfeedtemplate-image" not in {f.uid for f in r.findings}
    assert {"sync_connection_trap", "default_in_heavy_path", "timeout_ge_retry_after", "unrouted"} <= kinds(r)


def test_backlog_with_no_running_worker_is_no_consumer(moto_session: Any, redis_clean: Any, mariadb: Any) -> None:
    build_world(moto_session, WorldSpec(redis_port=redis_clean.port, db_port=mariadb.port, running_tasks=0))
    redis_clean.client(0).rpush(PREFIX + "queues:bulk", job(pushed=f"{time.time() - 60:.4f}"))
    r = run_check("queue.state", redis={"host": "127.0.0.1"}, database={"host": "127.0.0.1"},
                  exec={"transport": "off"})
    f = finding(r, "no_consumer", "bulk")
    assert f.severity.value == "critical" and f.evidence["running_consumers"] == 0
    assert finding(r, "depth", "bulk").evidence["age_source"] == "pushedAt"


def test_cli_sample_flag_end_to_end(moto_endpoint: str, redis_clean: Any, mariadb: Any, dns_server: Any,
                                    cli: Any, tmp_path: Any) -> None:
    import boto3

    w = build_world(boto3.Session(region_name=REGION), WorldSpec(redis_port=redis_clean.port, db_port=mariadb.port))
    dns_server.set(w.redis_host, "A", "127.0.0.1")
    dns_server.set(w.db_writer_endpoint, "A", "127.0.0.1")
    redis_clean.client(0).rpush(PREFIX + "queues:image", job(), job())
    cfg = tmp_path / "ame-doctor.toml"
    cfg.write_text(f'[aws]\nregion = "{REGION}"\n[dns]\nnameservers = ["{dns_server.nameserver}"]\n')
    res = cli("run", "--config", str(cfg), "--only", "queue.state", "--sample", "1", "--format", "json")
    assert res.returncode == 1, res.stderr  # nothing pops image during the sample: error finding
    report = json.loads(res.stdout)
    qs = report["checks"][0]
    assert qs["id"] == "queue.state"
    uids = {f["uid"] for f in qs["findings"]}
    assert {"queue.state:trend:image", "queue.state:no_consumer:image", "queue.state:depth:default"} <= uids
    bad = cli("run", "--config", str(cfg), "--only", "queue.state", "--sample", "-1")
    assert bad.returncode == 2 and "sample" in bad.stderr
