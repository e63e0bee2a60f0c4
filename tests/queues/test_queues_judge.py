"""queue.state's judgements as pure functions: plain data in, the kinds and values to report out. No moto,
no Redis, no MySQL; the last tests render the results through the check's declared kinds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from doctor.checkapi import CheckContext
from doctor.config import Config
from doctor.model import Severity
from doctor.queues import (
    GRACE_SECONDS,
    Consumer,
    HeadJob,
    KeyLocation,
    QueueSnapshot,
    Reading,
    ScanResult,
    ToReport,
    WorkerActivity,
    WorkerSpec,
    judge_failed_jobs,
    judge_key_split,
    judge_queue,
    judge_trend,
    parse_worker_command,
    route_queues,
    route_worker,
    snapshot_from_probe,
    worker_settings,
)
from doctor.redact import Redactor

PREFIX = "app_database_"
CLUSTER = "app-production"


def spec(words: str, queue: str = "image", service: str = "app-image", env: dict[str, str] | None = None,
         running: int | None = 1) -> WorkerSpec:
    return WorkerSpec(queue=queue, service=service, task_definition=f"{service}:7", container="worker",
                      words=words.split(), env=env or {}, running=running)


def route(s: WorkerSpec, values: dict[str, str] | None = None, derive_prefix: bool = True) -> Any:
    return route_worker(s, values or {"APP_NAME": "App"}, default_db=0, default_prefix="target_",
                        derive_prefix=derive_prefix, cluster=CLUSTER)


def kinds(reports: list[ToReport]) -> list[str]:
    return [r.kind for r in reports]


def one(reports: list[ToReport], kind: str) -> ToReport:
    match = [r for r in reports if r.kind == kind]
    assert len(match) == 1, kinds(reports)
    return match[0]


def consumer(queue: str, service: str, queues: list[str], running: int = 1, connection: str = "redis",
             command: str | None = None) -> Consumer:
    cmd = parse_worker_command((command or f"php artisan queue:work {connection} --queue={','.join(queues)}").split())
    return Consumer(service=service, queue=queue, command=cmd, connection=connection, queues=queues, running=running)


def head(attempts: int = 0, max_tries: int | None = 3, id: str = "h1") -> HeadJob:
    return HeadJob(id=id, display_name="App\\Jobs\\Resize", attempts=attempts, max_tries=max_tries,
                   created_at=None, age_source=None)


def snap(q: str = "image", at: float = 1000.0, **counts: Any) -> QueueSnapshot:
    return QueueSnapshot(name=q, key=PREFIX + "queues:" + q, db=0, at=at, **counts)


HOST = Reading("host", "app-image", CLUSTER)


# --- routing ------------------------------------------------------------------------------------
def test_a_healthy_worker_reports_only_its_command() -> None:
    r = route(spec("php artisan queue:work redis --queue=image --tries=3 --timeout=60 --memory=256"))
    assert r.unknowns == [] and kinds(r.reports) == ["worker"]
    assert r.consumer.connection == "redis" and r.consumer.queues == ["image"] and r.consumer.prefix == "app_database_"
    w = r.reports[0]
    assert w.values == {"service": "app-image", "command": "queue:work", "connection": "redis", "queues": "image",
                        "tries": 3, "timeout": 60, "max_jobs": 0, "memory": 256}
    assert w.resources == ["app-image", "app-image:7"] and w.evidence["retry_after_s"] == 90


def test_sync_connection_trap_says_whether_the_argument_was_given() -> None:
    given = route(spec("php artisan queue:work sync --queue=image --timeout=30"))
    assert one(given.reports, "sync_connection_trap").values["connection_note"] == ""
    implicit = route(spec("php artisan queue:work --queue=image --timeout=30"))
    assert implicit.consumer.connection == "sync"
    assert "QUEUE_CONNECTION is unset" in one(implicit.reports, "sync_connection_trap").values["connection_note"]
    from_ssm = route(spec("php artisan queue:work --queue=image --timeout=30"), {"QUEUE_CONNECTION": "redis"})
    assert "sync_connection_trap" not in kinds(from_ssm.reports)


def test_no_queue_option_pops_the_connections_default_queue() -> None:
    r = route(spec("php artisan queue:work redis --timeout=30"))
    assert r.consumer.queues == ["default"]
    assert "no --queue" in one(r.reports, "default_in_heavy_path").values["queue_note"]
    named = route(spec("php artisan queue:work redis --timeout=30"), {"REDIS_QUEUE": "image"})
    assert named.consumer.queues == ["image"] and "default_in_heavy_path" not in kinds(named.reports)


@pytest.mark.parametrize("timeout,retry_after,reported", [("60", "90", False), ("90", "90", True),
                                                          ("120", "90", True), ("0", "90", True)])
def test_timeout_must_stay_below_retry_after(timeout: str, retry_after: str, reported: bool) -> None:
    r = route(spec(f"php artisan queue:work redis --queue=image --timeout={timeout}"),
              {"REDIS_QUEUE_RETRY_AFTER": retry_after})
    assert ("timeout_ge_retry_after" in kinds(r.reports)) is reported
    if reported:
        assert one(r.reports, "timeout_ge_retry_after").values["suggested_timeout"] == 80


def test_location_from_the_container_environment_and_config_override() -> None:
    r = route(spec("php artisan queue:work redis --queue=image", env={"REDIS_DB": "2", "APP_NAME": "Other App"}))
    assert (r.consumer.db, r.consumer.prefix) == (2, "other_app_database_")
    r = route(spec("php artisan queue:work redis --queue=image", env={"REDIS_DB": "x"}), derive_prefix=False)
    assert (r.consumer.db, r.consumer.prefix) == (0, "target_")  # [redis] prefix set: the target's, bad DB ignored


def test_unknown_commands_are_unknown_not_findings() -> None:
    r = route(spec("php-fpm"))
    assert r.reports == [] and r.consumer.command is None and "no queue:work command" in r.unknowns[0]
    r = route(spec("php artisan horizon"))
    assert r.reports == [] and r.consumer.command is None and "Horizon" in r.unknowns[0]


def test_each_heavy_queue_by_exactly_its_own_service() -> None:
    queues = {"image": "app-image", "bulk": "app-bulk", "sync": "app-sync", "feed": "app-feed"}
    cs = [consumer("image", "app-image", ["image", "bulk"]),   # also pops bulk
          consumer("bulk", "app-bulk", ["other"]),            # not its own queue
          consumer("sync", "app-sync", ["sync"], connection="sync"),
          Consumer(service="app-feed", queue="feed", command=None)]  # unknown command: not judged
    reports = route_queues(queues, cs)
    assert kinds(reports) == ["misrouted", "unrouted"]
    mis = one(reports, "misrouted")
    assert mis.values == {"queue": "bulk", "service": "app-bulk", "others": "app-image"}
    assert mis.resources == ["bulk", "app-bulk", "app-image"] and mis.evidence["consumed_by"] == ["app-image"]
    assert one(reports, "unrouted").values["missing"] == ""  # the sync connection pops nothing


def test_unrouted_names_a_missing_service_and_shared_consumers() -> None:
    reports = route_queues({"image": "app-image"}, [])
    assert one(reports, "unrouted").values["missing"] == "; app-image is missing from the cluster"
    shared = route_queues({"image": "app-image"}, [consumer("image", "app-image", ["image"]),
                                                   consumer("bulk", "app-bulk", ["bulk", "image"])])
    s = one(shared, "shared_consumer")
    assert s.values == {"queue": "image", "others": "app-bulk"} and s.resources == ["image", "app-bulk"]


# --- one queue's reading ----------------------------------------------------------------------------
def test_empty_queue_is_draining_and_nothing_else() -> None:
    s = snap()
    reports = judge_queue("image", s, [s], consumer("image", "app-image", ["image"]),
                          [consumer("image", "app-image", ["image"])], HOST)
    assert kinds(reports) == ["depth"] and reports[0].signals == ("queue.draining",)
    assert reports[0].values["oldest"] == "" and reports[0].evidence["running_consumers"] == 1
    stranded = judge_queue("image", s, [s], None, [], Reading("host", "app-image", CLUSTER, stranded=True))
    assert stranded[0].signals == () and stranded[0].evidence["jobs_under_another_key"] is True


def test_backlog_with_no_running_consumer_is_critical() -> None:
    c = consumer("image", "app-image", ["image"], running=0)
    s = snap(ready=4, head=[head()])
    reports = judge_queue("image", s, [s], c, [c], HOST)
    assert reports[0].signals == ("queue.backlog",)
    nc = one(reports, "no_consumer")
    assert nc.severity == "critical" and nc.variant is None  # popped by an ECS service
    assert nc.values["reasons"] == "no running task of a service that consumes it"
    f = render(nc)
    assert f.title == "Nothing is popping `image`: 4 ready job(s) and no running task of a service that consumes it"
    assert "--services app-image" in f.remediation and nc.resources == [s.key, "app-image"]


def test_stale_entries_without_running_check_are_errors() -> None:
    s = snap("default", ready=2, reserved=1, delayed=1, expired_reserved=1, overdue_delayed=1,
             oldest_expired_reserved_s=600.0, oldest_overdue_delayed_s=45.5)
    reports = judge_queue("default", s, [s], None, [], Reading("host"))
    assert kinds(reports) == ["depth", "no_consumer", "stale_reservations", "overdue_delayed"]
    nc = one(reports, "no_consumer")
    assert nc.severity is None and nc.variant == "app_hosts" and render(nc).remediation.startswith("Check the app hosts")
    assert nc.values["reasons"] == "1 reservation(s) expired 600s ago; 1 delayed job(s) overdue by up to 45.5s"
    assert one(reports, "stale_reservations").values == {"queue": "default", "expired": 1, "oldest_s": 600.0}
    assert one(reports, "overdue_delayed").severity is None  # ready jobs wait too
    alone = snap("default", delayed=1, overdue_delayed=1, oldest_overdue_delayed_s=40.0)
    assert one(judge_queue("default", alone, [alone], None, [], Reading("host")), "overdue_delayed").severity == "warning"


def working(c: Consumer, longest: float | None = 200.0, running: int = 2, steady: bool = True) -> Consumer:
    """``c`` with running tasks that logged finished jobs (the longest ``longest`` seconds)."""
    c.activity = WorkerActivity(c.service, running_tasks=running, steady=steady, since=0.0, tasks_read=running,
                                done=12, longest_run_s=longest, longest_job="App\\Jobs\\Resize")
    return c


EXPIRED: dict[str, Any] = {"ready": 14, "reserved": 2, "expired_reserved": 1, "oldest_expired_reserved_s": 60.0}


def test_expired_reservation_beside_working_consumers_is_jobs_outliving_retry_after() -> None:
    c = working(consumer("image", "app-image", ["image"],
                         command="php artisan queue:work redis --queue=image --timeout=600"))
    s = snap(**EXPIRED)
    reports = judge_queue("image", s, [s], c, [c], HOST)
    assert kinds(reports) == ["depth", "jobs_outlive_retry_after"]  # no no_consumer, no stale_reservations
    r = one(reports, "jobs_outlive_retry_after")
    assert r.values == {"queue": "image", "expired": 1, "oldest_s": 60.0, "services": "app-image", "timeout": 600,
                             "retry_after": 90, "tasks": 2, "longest": "; the longest logged job ran 200s",
                             "suggested_retry_after": 630}
    assert r.evidence["consumers"][0]["consuming"] is True and r.evidence["worker_timeout_s"] == 600
    f = render(r)
    assert f.signals == ["queue.jobs_outlive_retry_after"] and f.severity == Severity.error
    assert f.title == ("`image`: jobs outlive retry_after=90s: 1 reservation(s) expired while app-image process jobs "
                       "(worker --timeout=600s; the longest logged job ran 200s)")
    assert "REDIS_QUEUE_RETRY_AFTER=630" in f.remediation


def test_a_logged_run_longer_than_retry_after_is_enough() -> None:
    c = working(consumer("image", "app-image", ["image"], command="php artisan queue:work redis --queue=image "
                         "--timeout=0"), longest=None)
    s = snap(**EXPIRED)
    assert "jobs_outlive_retry_after" in kinds(judge_queue("image", s, [s], c, [c], HOST))  # no timeout at all
    c = working(consumer("image", "app-image", ["image"]), longest=95.0)  # --timeout 60 but a 95 s run logged
    assert "jobs_outlive_retry_after" in kinds(judge_queue("image", s, [s], c, [c], HOST))


def test_expired_reservation_beside_short_jobs_is_a_worker_stopped_mid_job() -> None:
    c = working(consumer("image", "app-image", ["image"]), longest=4.0)  # --timeout 60 < retry_after 90
    s = snap(**EXPIRED)
    reports = judge_queue("image", s, [s], c, [c], HOST)
    assert kinds(reports) == ["depth", "stale_reservations"]
    r = one(reports, "stale_reservations")
    f = render(r)
    assert r.variant == "consumers_live" and f.signals == [] and f.severity == Severity.warning
    assert f.title == "`image`: 1 reservation(s) expired (oldest 60s past retry_after) while app-image process jobs"


def test_overdue_delayed_beside_working_consumers_waits_for_a_busy_worker() -> None:
    c = working(consumer("image", "app-image", ["image"]))
    s = snap(ready=3, delayed=2, overdue_delayed=2, oldest_overdue_delayed_s=50.0)
    reports = judge_queue("image", s, [s], c, [c], HOST)
    assert kinds(reports) == ["depth", "overdue_delayed"]
    f = render(one(reports, "overdue_delayed"))
    assert f.signals == [] and f.severity == Severity.warning and "while app-image are busy" in f.title


@pytest.mark.parametrize("case", ["no job lines", "not steady", "lower priority", "not read"])
def test_without_consumers_seen_working_the_stale_reading_stands(case: str) -> None:
    c = working(consumer("image", "app-image", ["image"], command="php artisan queue:work redis --queue=image "
                         "--timeout=600"))
    assert c.activity is not None
    if case == "no job lines":
        c.activity.done = 0
    elif case == "not steady":
        c.activity.steady = False
    elif case == "lower priority":  # it pops bulk first: image is popped only when bulk is empty
        c = working(consumer("image", "app-image", ["bulk", "image"]))
    else:
        c.activity = None
    s = snap(**EXPIRED)
    reports = judge_queue("image", s, [s], c, [c], HOST)
    assert kinds(reports) == ["depth", "no_consumer", "stale_reservations"]
    assert render(one(reports, "stale_reservations")).signals == ["queue.stale_reservations"]


def test_exhausted_tries_use_the_jobs_own_limit_else_the_workers() -> None:
    c = consumer("image", "app-image", ["image"], command="php artisan queue:work redis --queue=image --tries=2")
    s = snap(ready=3, head=[head(attempts=2, max_tries=None, id="a"), head(attempts=2, max_tries=5, id="b")],
             delayed=1, delayed_sample=[head(attempts=3, max_tries=3, id="c")])
    ex = one(judge_queue("image", s, [s], c, [c], HOST), "attempts_exhausted")
    assert [e["id"] for e in ex.evidence["exhausted"]] == ["a", "c"] and ex.values == {"queue": "image", "count": 2}


def test_failing_requeue_from_delayed_or_head_attempts() -> None:
    c = consumer("image", "app-image", ["image"])
    retried = [head(attempts=1, id=str(i)) for i in range(3)] + [head(id="x"), head(id="y")]
    s = snap(delayed=9, delayed_sample=retried)
    f = one(judge_queue("image", s, [s], c, [c], HOST), "failing_requeue")
    assert f.values == {"queue": "image", "retried": 3, "sampled": 5, "retried_head": 0, "head": 0}
    few = snap(delayed=4, delayed_sample=retried)
    assert "failing_requeue" not in kinds(judge_queue("image", few, [few], c, [c], HOST))
    heads = snap(ready=5, head=[head(attempts=1, id="a"), head(attempts=2, id="b"), head(id="c")])
    assert one(judge_queue("image", heads, [heads], c, [c], HOST), "failing_requeue").values["retried_head"] == 2


def test_a_head_that_never_moves_over_the_sample_is_no_consumer() -> None:
    c = consumer("image", "app-image", ["image"])
    readings = [snap(at=1000.0 + i * 6, ready=2, head=[head(id="stuck")]) for i in range(3)]
    nc = one(judge_queue("image", readings[-1], readings, c, [c], HOST), "no_consumer")
    assert nc.severity is None and nc.evidence["sampled_s"] == 12.0
    assert nc.variant == "head_stuck" and nc.values == {"queue": "image", "sampled_s": 12.0}
    f = render(nc)
    assert (f.title, f.detail, f.remediation) == (
        "Nothing popped `image` during the 12s sample: the head job did not change and nothing is reserved", "", "")
    moving = [snap(at=1000.0, ready=2, head=[head(id="a")]), snap(at=1006.0, ready=2, head=[head(id="b")])]
    assert "no_consumer" not in kinds(judge_queue("image", moving[-1], moving, c, [c], HOST))


@pytest.mark.parametrize("sizes,variant,severity,signals,what", [
    ((10, 40), None, "warning", ("queue.backlog_growing",), "backlog growing: 10 -> 40 in 10s (180/min)"),
    ((40, 10), "draining", "info", ("queue.draining",), "draining: 40 -> 10 in 10s (180/min, empty in ~3s)"),
    ((5, 0), "drained", "info", ("queue.draining",), "draining: 5 -> 0 in 10s"),
    ((7, 7), "flat", "info", (), "backlog flat at 7 over 10s"),
])
def test_trend(sizes: tuple[int, int], variant: str | None, severity: str, signals: tuple[str, ...],
               what: str) -> None:
    readings = [snap(at=1000.0, ready=sizes[0]), snap(at=1010.0, ready=sizes[1])]
    t = judge_trend("image", readings, False, HOST)
    assert (t.kind, t.variant, t.severity, t.signals) == ("trend", variant, None, signals)
    f = render(t)
    assert (f.severity.value, f.title) == (severity, f"`image` {what}")
    assert bool(f.remediation) is (severity == "warning") and t.evidence["sizes"] == list(sizes)


# --- key split, failed_jobs, the in-task probe's counts -----------------------------------------------
def test_key_split_stranded_jobs_and_unconsumed_queues() -> None:
    scan = ScanResult([KeyLocation(0, PREFIX, "image", {"ready": 2}), KeyLocation(1, "old_database_", "image",
                                                                                  {"ready": 3, "delayed": 1}),
                       KeyLocation(0, "old_database_", "mail", {"notify": 1}),
                       KeyLocation(0, "old_database_", "report", {"ready": 4})], [0, 1], complete=True)
    settings = worker_settings({"APP_NAME": "App"}, "ssm", None, 1)
    assert settings["REDIS_PREFIX"] == "unset" and settings["[redis] db"] == 1
    reports = judge_key_split(scan, {"image": (0, PREFIX)}, (0, PREFIX), settings)
    assert [r.resource for r in reports] == ["image", "report"]  # mail: nothing ready under the other prefix
    img = reports[0]
    assert img.severity is None and img.evidence["stranded_jobs"] == 4
    assert img.values == {"queue": "image", "db": 0, "key": PREFIX + "queues:image", "held": "2 jobs", "stranded": 4,
                          "other_keys": "db1 old_database_queues:image"}
    assert reports[1].values["held"] == "empty"
    empty_other = ScanResult([KeyLocation(2, "x_", "image", {"reserved": 1})], [2], complete=True)
    assert judge_key_split(empty_other, {"image": (0, PREFIX)}, (0, PREFIX), {})[0].severity == "warning"


def test_failed_jobs_by_queue_with_the_top_exception() -> None:
    rows = [{"queue": "image", "exception": "PDOException", "first_line": "PDOException: x", "count": 5},
            {"queue": "bulk", "exception": "RuntimeException", "first_line": "RuntimeException", "count": 2},
            {"queue": "image", "exception": "TypeError", "first_line": "TypeError: y", "count": 1}]
    reports = judge_failed_jobs(rows, {"image": "app-image"}.get, "app")
    assert [r.resource for r in reports] == ["bulk", "image"]
    assert reports[0].resources == ["bulk"] and "service" not in reports[0].evidence
    assert reports[1].values == {"queue": "image", "total": 6, "exception": "PDOException", "count": 5}
    assert reports[1].resources == ["image", "app-image"] and reports[1].evidence["database"] == "app"


def test_snapshot_from_the_probe_counts() -> None:
    reading = {"prefix": PREFIX, "db": "1", "at": 2000, "queues": {
        "image": {"ready": 1, "reserved": 1, "delayed": 2, "expired_reserved": 1, "overdue_delayed": 2,
                  "oldest_reserved_score": 1400}, "bulk": {"ready": "3", "reserved": 0, "delayed": 0}}}
    s = snapshot_from_probe("image", reading, now=5000.0)
    assert s is not None and (s.key, s.db, s.at, s.total) == (PREFIX + "queues:image", 1, 2000.0, 4)
    assert s.oldest_expired_reserved_s == 600.0 and s.oldest_overdue_delayed_s == GRACE_SECONDS
    assert snapshot_from_probe("bulk", reading, now=5000.0) is None  # not an int count
    assert snapshot_from_probe("sync", reading, now=5000.0) is None


# --- through the declared kinds (checks/queue_state.toml) -----------------------------------------------
def render(r: ToReport) -> Any:
    from checks.queue_state import META, _report

    ctx = CheckContext(META, Config(), None, None, Redactor([]))  # type: ignore[arg-type]
    return next(_report(ctx, [r]))


def test_reports_render_through_the_declared_kinds() -> None:
    r = route(spec("php artisan queue:work --queue=default --timeout=90", service="app-bulk", queue="bulk"))
    found = {f.uid: f for f in map(render, r.reports)}
    trap = found["queue.state:sync_connection_trap:app-bulk"]
    assert trap.severity == Severity.critical and trap.signals == ["queue.sync_connection_trap"]
    assert trap.title == "app-bulk runs `queue:work sync`: the sync connection never pops a job"
    assert trap.detail.endswith("grows. (no connection argument and QUEUE_CONNECTION is unset or 'sync')")
    assert trap.remediation == ("Register a task definition revision whose command is `php artisan queue:work redis "
                                "--queue=bulk ...` and `aws ecs update-service --cluster app-production --service "
                                "app-bulk --task-definition <new revision>`.")
    assert found["queue.state:timeout_ge_retry_after:app-bulk"].title == \
        "app-bulk: worker --timeout=90 is not below retry_after=90"
    w = found["queue.state:worker:app-bulk"]
    assert (w.title, w.remediation, w.signals) == (
        "app-bulk: queue:work sync --queue=default tries=1 timeout=90s max-jobs=0 memory=128MB", "", [])


def test_depth_and_trend_carry_only_the_signals_judged() -> None:
    s = snap(ready=2, head=[HeadJob("a", None, 0, None, 990.0, "createdAt")])
    depth = render(judge_queue("image", s, [s], None, [], HOST)[0])
    assert depth.title == "image: 2 ready, 0 reserved, 0 delayed; oldest ready 10s"
    assert depth.signals == ["queue.backlog"] and depth.remediation == ""
    flat = render(judge_trend("image", [snap(ready=3), snap(at=1010.0, ready=3)], False, HOST))
    assert flat.title == "`image` backlog flat at 3 over 10s" and flat.signals == []
    growing = render(judge_trend("image", [snap(ready=3), snap(at=1010.0, ready=9)], False, HOST))
    assert growing.severity == Severity.warning and growing.signals == ["queue.backlog_growing"]
    assert growing.remediation.startswith("Do not scale wider")


def test_key_split_renders_both_keys() -> None:
    scan = ScanResult([KeyLocation(1, "old_", "image", {"ready": 3})], [0, 1], complete=False)
    f = render(judge_key_split(scan, {"image": (0, PREFIX)}, (0, PREFIX), {})[0])
    assert f.title == (f"`image` is split: workers pop db0 {PREFIX}queues:image (empty), but db1 old_queues:image "
                       "holds 3 job(s) no worker pops")
    assert f.severity == Severity.error and f.resources == [PREFIX + "queues:image", "old_queues:image"]
    assert json.loads(json.dumps(f.evidence))["scan_complete"] is False


def test_the_vantage_readings_are_declared_variants() -> None:
    from checks.queue_state import META

    ctx = CheckContext(META, Config(), None, None, Redactor([]))  # type: ignore[arg-type]
    where: dict[str, Any] = {"host": "redis.internal", "port": 6379}
    readings = {None: ctx.finding("vantage", "redis", **where),
                "counts_in_tasks": ctx.finding("vantage", "redis", variant="counts_in_tasks", **where),
                "unresolved": ctx.finding("vantage", "redis", variant="unresolved", host="redis.internal")}
    assert {f.uid for f in readings.values()} == {"queue.state:vantage:redis"}
    assert all((f.severity, f.signals, f.remediation) == (Severity.info, [], "") for f in readings.values())
    assert readings[None].title == "Redis redis.internal:6379 unreachable from the doctor's host: queue numbers not read"
    assert readings[None].detail.endswith("it proves reachability from each worker (reach.redis) only.")
    assert readings["counts_in_tasks"].title == ("Redis redis.internal:6379 unreachable from the doctor's host; queue "
                                                 "counts read inside the worker tasks")
    assert readings["counts_in_tasks"].detail.startswith("Queue counts were read by the in-task probe (LLEN/ZCARD/")
    assert (readings["unresolved"].title, readings["unresolved"].detail) == (
        "Queue numbers not read: redis.internal does not resolve from the doctor's host", "")
