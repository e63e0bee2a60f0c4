"""queue.state against a real redis-server (Laravel-shaped keys and payloads) and real MariaDB failed_jobs, on
one moto world shared by this module (these tests change only Redis and MariaDB; the tests that change the
world itself are in test_queue_routing.py)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from doctor.model import CheckStatus
from doctor.sim.world import WorldSpec, build_world

from support.ecs_helpers import signals
from support.queues import PREFIX, check, finding, job


@pytest.fixture(scope="module")
def shared_world(redis_server: Any, mariadb_pair: Any) -> Iterator[dict[str, Any]]:
    import boto3
    from moto import mock_aws

    from doctor.sim.dns import DnsServer
    from doctor.sim.world import pin_ecs_task_status

    dns = DnsServer().start()
    try:
        with mock_aws():
            pin_ecs_task_status()
            session = boto3.Session(region_name="eu-west-1")
            w = build_world(session, WorldSpec(redis_port=redis_server.port, db_port=mariadb_pair[0].port))
            dns.set(w.redis_host, "A", "127.0.0.1")
            dns.set(w.db_writer_endpoint, "A", "127.0.0.1")
            yield {"world": w, "dns": {"nameservers": [dns.nameserver]}, "session": session}
    finally:
        dns.stop()


@pytest.fixture
def qworld(shared_world: dict[str, Any], redis_clean: Any, mariadb: Any) -> dict[str, Any]:
    """The moto world pointing at the real Redis and MariaDB (both emptied per test); its hosts resolve only
    through the test DNS server."""
    return {**shared_world, "redis": redis_clean, "db": mariadb}


def test_healthy_empty_queues_pass(qworld: dict[str, Any]) -> None:
    r = check(qworld)
    assert r.status == CheckStatus.passed, (r.summary, [f.uid for f in r.findings])
    for q in ("sync", "image", "bulk", "default"):
        f = finding(r, "depth", q)
        assert f.evidence["ready"] == 0 and f.evidence["key"] == PREFIX + "queues:" + q
        assert "queue.draining" in f.signals
    w = finding(r, "worker", "propertyfeedtemplate-image")
    assert w.evidence["tries"] == 3 and w.evidence["memory_mb"] == 256 and w.evidence["max_jobs"] == 0
    assert w.evidence["timeout_s"] == 60 and w.evidence["retry_after_s"] == 90
    assert not {"queue.unrouted", "queue.default_in_heavy_path", "queue.key_split"} & signals(r)


def test_stale_reservations_overdue_delayed_and_age(qworld: dict[str, Any]) -> None:
    r0 = qworld["redis"].client(0)
    now = time.time()
    key = PREFIX + "queues:image"
    r0.rpush(key, job(created=now - 900), job(created=now - 800))
    r0.zadd(key + ":reserved", {job(attempts=1): now - 600, job(attempts=1): now + 60})
    r0.zadd(key + ":delayed", {job(attempts=1): now - 300, job(): now + 3600})
    # sync: jobs failing and released back to delayed with attempts > 0; head jobs out of tries
    skey = PREFIX + "queues:sync"
    r0.zadd(skey + ":delayed", {job("App\\Jobs\\SyncFeed", attempts=a % 3 + 1): now + 30 + a for a in range(12)})
    r0.rpush(skey, *[job("App\\Jobs\\SyncFeed", attempts=3, max_tries=3) for _ in range(6)])
    r = check(qworld)
    assert "queue.state:no_consumer:sync" not in {f.uid for f in r.findings}  # it is popped, just failing
    assert "queue.failing_requeue" in finding(r, "failing_requeue", "sync").signals
    ex = finding(r, "attempts_exhausted", "sync")
    assert ex.evidence["exhausted"][0]["attempts"] == 3 and ex.evidence["exhausted"][0]["job"] == "App\\Jobs\\SyncFeed"
    assert r.status == CheckStatus.fail
    depth = finding(r, "depth", "image")
    assert (depth.evidence["ready"], depth.evidence["reserved"], depth.evidence["delayed"]) == (2, 2, 2)
    assert depth.evidence["expired_reservations"] == 1 and depth.evidence["overdue_delayed"] == 1
    assert depth.evidence["age_source"] == "createdAt" and 890 <= depth.evidence["oldest_ready_age_s"] <= 1000
    assert depth.evidence["vantage"] == "host"
    assert "queue.backlog" in depth.signals
    assert {"queue.no_consumer", "queue.stale_reservations", "queue.overdue_delayed"} <= signals(r)
    stale = finding(r, "stale_reservations", "image")
    assert stale.evidence["queue"] == "image" and stale.evidence["service"] == "propertyfeedtemplate-image"
    # the other queues stay clean
    assert finding(r, "depth", "bulk").evidence["ready"] == 0
    assert not [f for f in r.findings if f.uid.endswith(":bulk") and f.severity.rank >= 2]


def test_key_split_names_both_keys_and_settings(qworld: dict[str, Any]) -> None:
    c = qworld["redis"]
    # the web tier (APP_NAME=Laravel, REDIS_DB=1) pushes where no worker pops
    c.client(1).rpush("laravel_database_queues:image", *[job() for _ in range(5)])
    # a cache-like key with "queues:" inside must not confuse the parser
    c.client(0).set("propertyfeedtemplate_cache_:stats", "1")
    r = check(qworld)
    f = finding(r, "key_split", "image")
    assert f.severity.value == "error" and "queue.key_split" in f.signals
    assert f.evidence["workers_key"]["key"] == PREFIX + "queues:image" and f.evidence["workers_key"]["db"] == 0
    assert f.evidence["workers_key"]["workers_settings"]["APP_NAME"] == "propertyfeedtemplate"
    assert f.evidence["workers_key"]["workers_settings"]["REDIS_PREFIX"] == "unset"
    assert "holds 5 job(s) no worker pops" in f.title and "(empty)" in f.title
    other = f.evidence["other_keys"][0]
    assert other["key"] == "laravel_database_queues:image" and other["db"] == 1
    assert other["lengths"]["ready"] == 5 and f.evidence["stranded_jobs"] == 5
    assert other["produced_by"]["REDIS_DB"] == 1 and "'laravel'" in other["produced_by"]["APP_NAME"]
    assert set(f.resources) == {PREFIX + "queues:image", "laravel_database_queues:image"}
    depth = finding(r, "depth", "image")
    assert depth.evidence["jobs_under_another_key"] and "queue.draining" not in depth.signals


def test_config_cache_in_the_worker_is_the_consumer_location(qworld: dict[str, Any], tmp_path: Any) -> None:
    """The in-task probe (local transport) reads bootstrap/cache/config.php: the workers pop db2 under the
    cached prefix while the web tier (SSM APP_NAME) pushes to db0 — a key split the env alone does not show."""
    (tmp_path / "bootstrap" / "cache").mkdir(parents=True)
    (tmp_path / "bootstrap" / "cache" / "config.php").write_text(
        "<?php return ['app' => ['key' => 'k'], 'database' => ['default' => 'mysql', 'connections' => "
        "['mysql' => ['host' => 'db']], 'redis' => ['options' => ['prefix' => 'old_app_database_'], "
        "'default' => ['host' => 'r', 'database' => 2]]]];\n")
    c = qworld["redis"]
    c.client(0).rpush(PREFIX + "queues:image", job(), job(), job())
    c.client(2).rpush("old_app_database_queues:image", job())
    r = check(qworld, exec={"transport": "local", "app_root": str(tmp_path), "timeout": 20})
    depth = finding(r, "depth", "image")
    assert depth.evidence["key"] == "old_app_database_queues:image" and depth.evidence["db"] == 2
    assert depth.evidence["ready"] == 1 and "in-task probe (config_cache" in depth.evidence["location_source"]
    split = finding(r, "key_split", "image")
    assert split.evidence["workers_key"]["key"] == "old_app_database_queues:image"
    assert split.evidence["other_keys"][0]["key"] == PREFIX + "queues:image" and split.evidence["stranded_jobs"] == 3


def test_failed_jobs_grouped_and_redacted(qworld: dict[str, Any]) -> None:
    db = qworld["db"]
    pw = qworld["world"].spec.db_password
    rows = [("image", f"PDOException: SQLSTATE[HY000] [1045] Access denied (password {pw})\n#0 /var/www/x.php(1)")] * 3
    rows += [("bulk", "Illuminate\\Queue\\MaxAttemptsExceededException: App\\Jobs\\Import has been attempted too "
                      "many times.\n#0 stack")]
    rows += [("bulk", "RuntimeException: old failure\n#0")]
    with db.connect().cursor() as cur:
        for i, (queue, exc) in enumerate(rows):
            cur.execute("INSERT INTO failed_jobs (uuid, connection, queue, payload, exception, failed_at) VALUES "
                        "(%s, 'redis', %s, '{}', %s, NOW() - INTERVAL %s MINUTE)",
                        (str(uuid.uuid4()), queue, exc, 5 if i < 4 else 600))
    r = check(qworld)
    img = finding(r, "failed_jobs_recent", "image")
    assert img.evidence["failed_last_hour"] == 3 and img.evidence["by_exception"][0]["exception"] == "PDOException"
    assert pw not in json.dumps(img.model_dump()) and "#0" not in img.evidence["by_exception"][0]["first_line"]
    bulk = finding(r, "failed_jobs_recent", "bulk")
    assert bulk.evidence["failed_last_hour"] == 1  # the 10-hour-old row is outside the window
    assert bulk.evidence["by_exception"][0]["exception"] == "Illuminate\\Queue\\MaxAttemptsExceededException"


def test_missing_failed_jobs_table_is_unknown_not_error(qworld: dict[str, Any]) -> None:
    db = qworld["db"]
    db.execute_root([f"RENAME TABLE `{db.database}`.failed_jobs TO `{db.database}`.failed_jobs_away"])
    try:
        r = check(qworld)
    finally:
        db.execute_root([f"RENAME TABLE `{db.database}`.failed_jobs_away TO `{db.database}`.failed_jobs"])
    assert r.status == CheckStatus.unknown, r.summary
    assert "failed_jobs does not exist" in r.summary
    assert finding(r, "depth", "image").evidence["ready"] == 0  # the rest still ran


def test_unreachable_redis_is_unknown_with_vantage(qworld: dict[str, Any], refused_port: int) -> None:
    r = check(qworld, redis={"host": "127.0.0.1", "port": refused_port})
    assert r.status == CheckStatus.unknown
    assert "vantage host" in r.summary and str(refused_port) in r.summary
    v = finding(r, "vantage", "redis")
    assert v.evidence["vantage"] == "host" and v.evidence["port"] == refused_port
    assert finding(r, "worker", "propertyfeedtemplate-sync")  # routing still checked
    assert not [f for f in r.findings if f.uid.startswith("queue.state:depth:")]


def test_unresolvable_redis_host_is_unknown(qworld: dict[str, Any], unresolvable_name: str) -> None:
    r = check(qworld, redis={"host": unresolvable_name})
    assert r.status == CheckStatus.unknown and "does not resolve" in r.summary
    v = finding(r, "vantage", "redis")
    assert v.evidence["host"] == unresolvable_name and v.evidence["nameservers"] == qworld["dns"]["nameservers"]


def test_sample_reports_drain_rate_and_growth(qworld: dict[str, Any]) -> None:
    r0 = qworld["redis"].client(0)
    r0.rpush(PREFIX + "queues:image", *[job() for _ in range(200)])
    r0.rpush(PREFIX + "queues:bulk", job())
    stop = threading.Event()

    def traffic() -> None:  # a worker drains image, a producer keeps pushing bulk
        c = qworld["redis"].client(0)
        while not stop.is_set():
            c.lpop(PREFIX + "queues:image")
            c.rpush(PREFIX + "queues:bulk", job())
            time.sleep(0.02)

    t = threading.Thread(target=traffic, daemon=True)
    t.start()
    try:
        r = check(qworld, run={"sample": 2})
    finally:
        stop.set()
        t.join()
    img = finding(r, "trend", "image")
    assert "queue.draining" in img.signals and img.evidence["drain_rate_per_min"] > 0
    assert img.evidence["time_to_empty_s"] is not None and img.evidence["readings"] == 3
    bulk = finding(r, "trend", "bulk")
    assert "queue.backlog_growing" in bulk.signals and bulk.evidence["sizes"][-1] > bulk.evidence["sizes"][0]


def test_sample_with_a_stuck_head_is_no_consumer(qworld: dict[str, Any]) -> None:
    qworld["redis"].client(0).rpush(PREFIX + "queues:sync", job(), job())
    r = check(qworld, run={"sample": 1})
    f = finding(r, "no_consumer", "sync")
    assert f.evidence["sampled_s"] > 0 and "queue.no_consumer" in f.signals
    assert "queue.draining" not in finding(r, "trend", "sync").signals


def test_inspection_cost_does_not_read_lists(redis_clean: Any) -> None:
    from doctor.queues import inspect_queue

    c = redis_clean.client(0)
    c.rpush("p_queues:big", *[job() for _ in range(3000)])
    c.zadd("p_queues:big:delayed", {job(): i for i in range(3000)})
    c.config_resetstat()
    snap = inspect_queue(c, "p_", "big")
    assert snap.ready == 3000 and snap.delayed == 3000 and len(snap.head) == 3
    stats = {k.split("|")[0]: v for k, v in c.info("commandstats").items()}
    assert set(stats) <= {"cmdstat_llen", "cmdstat_zcard", "cmdstat_zcount", "cmdstat_zrange", "cmdstat_lrange",
                          "cmdstat_config", "cmdstat_info"}, set(stats)
    assert stats["cmdstat_lrange"]["calls"] == 1
