"""queue.state judged with the consumers' state (their running tasks and the job lines in their CloudWatch streams)
and failed_jobs read through the live writer when DB_HOST is stale: a fresh moto world per test, the real Redis
and MariaDB."""

from __future__ import annotations

import time
from typing import Any

import pytest

from doctor.model import CheckStatus
from doctor.sim.world import WorldSpec, build_world, put_log_events

from support.ecs_helpers import REGION, backend_service
from support.queues import CLUSTER, PREFIX, check, finding, job, new_revision

IMAGE = "propertyfeedtemplate-image"


@pytest.fixture
def q(moto_session: Any, redis_clean: Any, mariadb: Any, dns_server: Any) -> dict[str, Any]:
    """The moto world pointing at the real Redis and MariaDB; hosts resolve only via the test DNS server."""
    w = build_world(moto_session, WorldSpec(redis_port=redis_clean.port, db_port=mariadb.port))
    dns_server.set(w.redis_host, "A", "127.0.0.1")
    dns_server.set(w.db_writer_endpoint, "A", "127.0.0.1")
    return {"world": w, "redis": redis_clean, "db": mariadb, "dns": {"nameservers": [dns_server.nameserver]},
            "session": moto_session, "dns_server": dns_server}


def log_jobs(q: dict[str, Any], lines: list[str], minutes_ago: float = 2) -> None:
    """``lines`` in the image task's awslogs stream, written ``minutes_ago``."""
    w = q["world"]
    arn = w.tasks[IMAGE][0]
    at = time.time() - 60 * minutes_ago
    put_log_events(q["session"].client("logs", region_name=REGION), w.log_groups[IMAGE],
                   f"ecs/app/{arn.rsplit('/', 1)[-1]}", [(at + i, line) for i, line in enumerate(lines)])


def expired_reservation(q: dict[str, Any]) -> None:
    """A backlog, one job in progress and one whose reservation expired a minute ago."""
    r = q["redis"].client(0)
    now = time.time()
    r.rpush(PREFIX + "queues:image", *[job() for _ in range(6)])
    r.zadd(PREFIX + "queues:image:reserved", {job(attempts=1): now + 40, job(attempts=2): now - 60})


DONE = "  2026-11-30 10:00:00 App\\Jobs\\ResizeImage ........................ 3m 31s DONE"
BANNER = "   INFO  Processing jobs from the [image] queue."


def test_expired_reservation_beside_processing_workers_is_jobs_outliving_retry_after(q: dict[str, Any]) -> None:
    new_revision(q["session"], IMAGE, ["php", "artisan", "queue:work", "redis", "--queue=image", "--timeout=600"])
    log_jobs(q, [BANNER, DONE, DONE.replace("3m 31s", "2m 4s")])
    expired_reservation(q)
    r = check(q)
    uids = {f.uid for f in r.findings}
    assert "queue.state:no_consumer:image" not in uids and "queue.state:stale_reservations:image" not in uids
    f = finding(r, "jobs_outlive_retry_after", "image")
    assert f.signals == ["queue.jobs_outlive_retry_after"]
    assert (f.evidence["worker_timeout_s"], f.evidence["retry_after_s"], f.evidence["longest_run_s"]) == (600, 90, 211)
    (consumer,) = f.evidence["consumers"]
    assert consumer["service"] == IMAGE and consumer["consuming"] is True and consumer["jobs_done"] == 2
    assert consumer["running_tasks"] == 1 and consumer["steady"] is True and consumer["task_streams_read"] == 1


@pytest.mark.parametrize("lines,minutes_ago", [([BANNER], 2), ([DONE], 40)], ids=["banner only", "jobs long ago"])
def test_without_recent_job_lines_the_expired_reservation_means_no_consumer(q: dict[str, Any], lines: list[str],
                                                                           minutes_ago: float) -> None:
    new_revision(q["session"], IMAGE, ["php", "artisan", "queue:work", "redis", "--queue=image", "--timeout=600"])
    log_jobs(q, lines, minutes_ago)
    expired_reservation(q)
    r = check(q)
    assert "queue.no_consumer" in finding(r, "no_consumer", "image").signals
    assert "queue.stale_reservations" in finding(r, "stale_reservations", "image").signals
    assert finding(r, "depth", "image").evidence["consumers"][0]["consuming"] is False


def test_an_unsteady_service_is_not_a_consumer(q: dict[str, Any]) -> None:
    log_jobs(q, [DONE])
    svc = backend_service(CLUSTER, IMAGE)
    svc.desired_count, svc.running_count, svc.pending_count = 2, 1, 1  # a replacement task is not starting
    expired_reservation(q)
    r = check(q)
    assert "queue.no_consumer" in finding(r, "no_consumer", "image").signals
    assert finding(r, "depth", "image").evidence["consumers"][0]["steady"] is False


def test_short_jobs_beside_an_expired_reservation_is_a_worker_stopped_mid_job(q: dict[str, Any]) -> None:
    log_jobs(q, [DONE.replace("3m 31s", "4s")] * 3)  # --timeout=60 below retry_after=90, jobs of seconds
    expired_reservation(q)
    r = check(q)
    f = finding(r, "stale_reservations", "image")
    assert f.signals == [] and f.severity.value == "warning" and "while propertyfeedtemplate-image process" in f.title
    assert "queue.state:no_consumer:image" not in {f.uid for f in r.findings}


def test_quiet_queues_read_no_worker_logs(q: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The consumers' logs are read only where a stale entry makes them decide the judgement."""
    from support.ecs_helpers import deny

    deny(monkeypatch, "logs", "GetLogEvents")
    q["redis"].client(0).rpush(PREFIX + "queues:image", job())
    assert check(q).status == CheckStatus.passed
    expired_reservation(q)
    r = check(q)
    assert r.status == CheckStatus.fail and "logs:GetLogEvents" in (r.unlock or "")
    assert "queue.no_consumer" in finding(r, "no_consumer", "image").signals  # not known to consume: as before


# --- failed_jobs through the live writer ------------------------------------------------------------
def fail_jobs(db: Any, n: int) -> None:
    db.execute_root([f"USE `{db.database}`", "DELETE FROM failed_jobs", *[
        "INSERT INTO failed_jobs (uuid, connection, queue, payload, exception, failed_at) VALUES "
        f"(UUID(), 'redis', 'image', '{{}}', 'Illuminate\\\\Queue\\\\MaxAttemptsExceededException: too many', "
        f"NOW() - INTERVAL {i + 1} MINUTE)" for i in range(n)]])


STALE = "ame-aurora-old.cluster-c0ld0ld0ld.eu-west-1.rds.amazonaws.com"


@pytest.mark.parametrize("resolves", [False, True], ids=["nxdomain", "resolves to a dead address"])
def test_failed_jobs_are_read_through_the_live_writer_when_db_host_is_stale(q: dict[str, Any],
                                                                            resolves: bool) -> None:
    w = q["world"]
    q["session"].client("ssm", region_name=REGION).put_parameter(Name=w.param("DB_HOST"), Value=STALE,
                                                                 Type="String", Overwrite=True)
    if resolves:
        q["dns_server"].set(STALE, "A", "127.0.0.2")  # the old address: no database of the account behind it
    fail_jobs(q["db"], 4)
    r = check(q)
    assert r.status == CheckStatus.warn, r.summary  # not unknown: the failures are read
    f = finding(r, "failed_jobs_recent", "image")
    assert f.evidence["failed_last_hour"] == 4 and f.evidence["read_through"] == w.db_writer_endpoint.lower()
    src = finding(r, "failed_jobs_source", "ame-aurora")
    assert src.evidence["db_host"] == STALE and src.severity.value == "info"
    assert src.title == (f"failed_jobs read through {w.db_writer_endpoint.lower()} (the writer of ame-aurora): "
                         f"DB_HOST {STALE} names no live cluster")


def test_a_db_host_that_names_the_live_cluster_is_read_as_configured(q: dict[str, Any]) -> None:
    fail_jobs(q["db"], 2)
    r = check(q)
    f = finding(r, "failed_jobs_recent", "image")
    assert "read_through" not in f.evidence
    assert not [x for x in r.findings if x.uid.startswith("queue.state:failed_jobs_source:")]


def test_several_live_clusters_and_a_stale_db_host_name_the_key_to_set(q: dict[str, Any]) -> None:
    w = q["world"]
    s = q["session"]
    s.client("rds", region_name=REGION).create_db_cluster(
        DBClusterIdentifier="reporting", Engine="aurora-mysql", MasterUsername="admin",
        MasterUserPassword="admin-password-1")
    s.client("ssm", region_name=REGION).put_parameter(Name=w.param("DB_HOST"), Value=STALE, Type="String",
                                                      Overwrite=True)
    fail_jobs(q["db"], 1)
    r = check(q)
    assert r.status == CheckStatus.unknown and r.unlock == "[database] cluster"
    assert "DB_HOST names no live Aurora cluster and the account has several (ame-aurora, reporting)" in r.summary
    r = check(q, database={"cluster": "ame-aurora"})
    assert finding(r, "failed_jobs_recent", "image").evidence["read_through"] == w.db_writer_endpoint.lower()
