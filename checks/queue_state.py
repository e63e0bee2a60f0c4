"""queue.state — do the queues drain? What Redis, the task definitions and failed_jobs say.

This module gathers the data (SSM values, ECS services and task definitions, the in-task probe, Redis, MySQL)
and reports what the pure judgements in :mod:`doctor.queues` find (routing, judge, split, failed_jobs); the
finding kinds' text is in ``queue_state.toml``. Redis is read from the doctor's host ("vantage host"); when
the host cannot reach it, the in-task probe's counts (read under each worker's own prefix and DB) stand in.

The independent waits run at once: the first PING to Redis and the failed_jobs read start in the background
while the routing is read and the in-task probe (shared with reach.redis / reach.aurora) finishes. Both go
through the run's dead-endpoint memo (``Facts.dead_endpoints``): an endpoint reach.redis or reach.aurora found
timing out is not waited on again, and one they are still probing is waited for, not probed twice.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from doctor.aws import denied_action
from doctor.checkapi import CheckContext, check, load_meta
from doctor.facts import DbTarget, RedisTarget
from doctor.facts.datastores import DataStore, writer_for_stale_db_host
from doctor.facts.logs import awslogs_config, recent_events, task_stream
from doctor.model import Finding
from doctor.net.dns import connect_address
from doctor.net.hostprobe import DeadEndpoint, redis_timeout_phase
from doctor.probe import probe_all
from doctor.queues import (
    Consumer,
    FailedJobsUnavailable,
    QueueSnapshot,
    Reading,
    RedisPool,
    ToReport,
    WorkerActivity,
    WorkerSpec,
    command_words,
    inspect_queue,
    judge_failed_jobs,
    judge_key_split,
    judge_queue,
    judge_trend,
    keyspace_dbs,
    read_failed_jobs,
    route_queues,
    route_worker,
    scan_queue_keys,
    snapshot_from_probe,
    worker_settings,
)
from doctor.util import to_datetime, to_int

META = load_meta(__file__)
T = TypeVar("T")

SAMPLE_MARGIN = 20.0  # seconds of the check deadline kept free when sampling
ACTIVE_MINUTES = 15   # job lines this recent make a service a consumer
ACTIVE_TASKS_READ = 3  # running tasks per service whose log lines are read


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    try:
        values = ctx.facts.ssm_values()
    except Exception as e:
        values = {}
        action = denied_action(e)
        ctx.unknown(f"SSM values unreadable ({action or type(e).__name__}); using config and defaults", unlock=action)
    target = ctx.facts.redis_target()
    connect, read = _timeouts(ctx)
    contact = Background(functools.partial(_first_contact, ctx, target, connect, read)) if target.host else None
    failed = Background(functools.partial(_read_failed_jobs, ctx, connect, read))

    consumers = yield from _routing(ctx, values, target)

    probes = _probe_locations(ctx, consumers)
    task_readings = {svc: r for svc, r in probes.items() if r.ok and (r.queues or {}).get("queues")}
    pool, note = _connect(ctx, target, contact, probes, bool(task_readings))
    if note is not None:
        yield note
    if pool is None and task_readings:
        yield from _task_vantage(ctx, task_readings, consumers)
    if pool is not None:
        try:
            yield from _redis_findings(ctx, pool.client, target, consumers, values)
        finally:
            pool.close()

    yield from _failed_jobs(ctx, failed.result())


class Background(Generic[T]):
    """``fn()`` started now in a thread of its own; :meth:`result` waits for it (its exception is raised there)."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._box: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, args=(fn,), name="queue.state-io", daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], T]) -> None:
        try:
            self._box["value"] = fn()
        except BaseException as e:  # handed to the caller of result()
            self._box["error"] = e

    def result(self) -> T:
        self._thread.join()
        if "error" in self._box:
            raise self._box["error"]
        return self._box["value"]  # type: ignore[no-any-return]


def _timeouts(ctx: CheckContext) -> tuple[float, float]:
    """The host connections' (connect, read) timeouts ([run] connect_timeout / read_timeout), kept to a sixth of
    the check's budget each: the probe wait (a third), a connect and the reads fit in it whatever black-holes."""
    connect, read = ctx.config.host_timeouts()
    room = max(0.5, (ctx.meta.timeout or ctx.config.run.check_timeout) / 6)
    return min(connect, room), min(read, room)


def _report(ctx: CheckContext, items: Iterable[ToReport]) -> Iterator[Finding]:
    for r in items:
        yield ctx.finding(r.kind, r.resource, evidence=r.evidence, resources=r.resources, severity=r.severity,
                          signals=r.signals, variant=r.variant, **r.values)


# --- routing ----------------------------------------------------------------------------------
def _routing(ctx: CheckContext, values: dict[str, str],
             target: RedisTarget) -> Generator[Finding, None, list[Consumer]]:
    cfg = ctx.config
    consumers: list[Consumer] = []
    try:
        services = ctx.facts.services()
    except Exception as e:
        action = denied_action(e)
        if action is None and not _aws_like(e):
            raise
        ctx.unknown(f"routing not checked: ECS services unreadable ({action or e})", unlock=action)
        return consumers
    for queue, qcfg in cfg.queues.items():
        svc = services.get(qcfg.service)
        if svc is None:
            continue  # ecs.service reports a missing service
        try:
            td = ctx.facts.service_task_definition(qcfg.service)
        except Exception as e:
            action = denied_action(e)
            if action is None and not _aws_like(e):
                raise
            ctx.unknown(f"{qcfg.service}: task definition unreadable ({action or e})", unlock=action)
            continue
        if td is None:
            continue
        name = ctx.facts.container_name(td)
        container: dict[str, Any] = next((c for c in td.get("containerDefinitions", []) if c.get("name") == name), {})
        spec = WorkerSpec(queue=queue, service=qcfg.service, container=name, words=command_words(container),
                          task_definition=f"{td.get('family', qcfg.service)}:{td.get('revision', '?')}",
                          env={e["name"]: e.get("value", "") for e in container.get("environment", []) or []
                               if "name" in e},
                          running=svc.get("runningCount"))
        routed = route_worker(spec, values, default_db=target.db, default_prefix=target.prefix,
                              derive_prefix=cfg.redis.prefix is None, cluster=cfg.ecs.cluster)
        consumers.append(routed.consumer)
        for reason in routed.unknowns:
            ctx.unknown(reason)
        yield from _report(ctx, routed.reports)
    yield from _report(ctx, route_queues({q: qcfg.service for q, qcfg in cfg.queues.items()}, consumers))
    return consumers


# --- in-task view ---------------------------------------------------------------------------
def _probe_locations(ctx: CheckContext, consumers: list[Consumer]) -> dict[str, Any]:
    """The effective Redis prefix / DB inside each worker (the in-task probe reads bootstrap/cache/config.php
    when present, else the env), shared with reach.redis through the facts memo. {} when exec is off."""
    cfg = ctx.config
    if cfg.exec.transport == "off" and cfg.exec.fallback == "off" or not consumers:
        return {}

    deadline = min(cfg.exec.timeout + 5, (ctx.meta.timeout or cfg.run.check_timeout) / 3)
    results = probe_all(ctx.facts, [c.service for c in consumers], deadline)
    for c in consumers:
        r = results.get(c.service)
        env = (r.env or {}) if r is not None and r.ok else {}
        if env.get("redis_prefix") is not None:
            c.prefix = str(env["redis_prefix"])
            c.db = to_int(env.get("redis_db"), c.db)
            c.location_source = f"in-task probe ({env.get('source', '?')}, vantage {r.vantage})"  # type: ignore[union-attr]
    return results


def _task_vantage(ctx: CheckContext, readings: dict[str, Any], consumers: list[Consumer]) -> Iterator[Finding]:
    """Depth and draining judgement from counts the in-task probe read (vantage ``task:<service>``): each
    heavy queue from its own service's task (where its workers pop), ``default`` from any task."""
    by_queue = {c.queue: c for c in consumers}
    any_reading = next(iter(readings.values()))
    snaps: dict[str, tuple[QueueSnapshot, str]] = {}
    for q in [*ctx.config.queues, "default"]:
        own = readings.get(ctx.config.service_for(q) or "") or any_reading
        snap = snapshot_from_probe(q, own.queues or {}, now=time.time())
        if snap is not None:
            snaps[q] = (snap, own.vantage)
    _read_activity(ctx, consumers, [s for s, _ in snaps.values()])
    for q, (snap, vantage) in snaps.items():
        where = Reading(vantage, ctx.config.service_for(q), ctx.config.ecs.cluster, stranded=False)
        yield from _report(ctx, judge_queue(q, snap, [snap], by_queue.get(q), consumers, where))


# --- the consumers' state ----------------------------------------------------------------------
def _read_activity(ctx: CheckContext, consumers: list[Consumer], snaps: list[QueueSnapshot]) -> None:
    """Give each service popping a queue with stale entries (expired reservations, overdue delayed jobs) its
    :class:`WorkerActivity`: its running tasks, steady or not, and the job lines they logged in the last
    :data:`ACTIVE_MINUTES`. Read only where it decides the judgement."""
    stale = [s.name for s in snaps if s.expired_reserved or s.overdue_delayed]
    for c in consumers:
        if c.activity is None and any(c.pops(q) for q in stale):
            c.activity = _activity(ctx, c)


def _activity(ctx: CheckContext, c: Consumer) -> WorkerActivity:
    svc = (ctx.facts.services() or {}).get(c.service) or {}
    desired, running, pending = (int(svc.get(k) or 0) for k in ("desiredCount", "runningCount", "pendingCount"))
    since = ctx.facts.now - timedelta(minutes=ACTIVE_MINUTES)
    listed = ctx.attempt(f"{c.service} tasks", functools.partial(ctx.facts.tasks, c.service))
    tasks = [t for t in listed or [] if t.get("lastStatus") == "RUNNING"]
    act = WorkerActivity(c.service, running_tasks=len(tasks), steady=desired > 0 and running == desired and not pending,
                         since=since.timestamp(), problem=None if listed is not None else "ECS tasks unreadable")
    td = ctx.facts.service_task_definition(c.service)
    container = ctx.facts.container_name(td) if td else None
    awslogs = awslogs_config(td, container) if td else None
    if awslogs is None:
        act.problem = "the worker container does not log with awslogs"
        return act
    group, prefix = awslogs
    newest = sorted(tasks, key=lambda t: to_datetime(t.get("startedAt") or t.get("createdAt")), reverse=True)
    for task in newest[:ACTIVE_TASKS_READ]:
        events = ctx.attempt(f"{c.service} worker logs", functools.partial(
            recent_events, ctx.facts, group, task_stream(prefix, container, task), since))
        if events is None:
            act.problem = "logs:GetLogEvents denied"
            break
        act.add(events)
    return act


# --- Redis ------------------------------------------------------------------------------------
Contact = tuple[RedisPool | None, BaseException | DeadEndpoint | None]


def _first_contact(ctx: CheckContext, target: RedisTarget, connect: float, read: float) -> Contact:
    """The target's address looked up and a client pool for it after one PING: (pool, None) when it answered;
    (pool, the endpoint's timeout — this PING's or one remembered from earlier in the run — or the error); (None,
    the lookup's error) when the name does not resolve."""
    assert target.host is not None
    try:
        address = connect_address(target.host, ctx.config.dns.nameservers)
    except Exception as e:
        return None, e
    pool = RedisPool.for_target(target, address, connect, read)
    with ctx.facts.dead_endpoints.attempt("host", target.host, target.port, wait=connect + read) as turn:
        if turn.dead is not None:
            return pool, turn.dead
        import redis

        try:
            pool.ping(target.db)
        except redis.exceptions.TimeoutError as e:
            return pool, turn.timed_out(*redis_timeout_phase(e, connect, read))
        except Exception as e:
            return pool, e
    return pool, None


def _connect(ctx: CheckContext, target: RedisTarget, contact: Background[Contact] | None, probes: dict[str, Any],
             task_counts: bool = False) -> tuple[RedisPool | None, Finding | None]:
    """The client pool once the first PING answered, or None (with the vantage in the reason). When the in-task
    probe read the queue counts (``task_counts``) the check is not unknown: only the key-split search is."""
    if contact is None:
        ctx.unknown("Redis not inspected: no REDIS_HOST in SSM and no [redis] host in the config",
                    unlock="[redis] host")
        return None, None
    pool, failure = contact.result()
    if pool is None:
        e = failure
        ctx.unknown(f"Redis not inspected from vantage host (the doctor's host): {target.host} does not resolve "
                    f"({type(e).__name__}: {e}); dns.resolve reports why"
                    + ("; queue counts read through the in-task probe, key-split search skipped" if task_counts
                       else ""))
        return None, ctx.finding(
            "vantage", "redis", evidence={"vantage": "host", "host": target.host, "port": target.port,
                                          "nameservers": ctx.config.dns.nameservers or ["system resolver"],
                                          "error": f"{type(e).__name__}: {e}"},
            variant="unresolved", host=target.host)
    if failure is None:
        return pool, None
    pool.close()
    error = failure.detail if isinstance(failure, DeadEndpoint) else f"{type(failure).__name__}: {failure}"
    what = "Timeout" if isinstance(failure, DeadEndpoint) else type(failure).__name__
    from_tasks = {svc: {k: (r.redis or {}).get(k) for k in ("tcp", "reply", "role")} | {"ok": r.ok}
                  for svc, r in probes.items()}
    note = ctx.finding(
        "vantage", "redis",
        evidence={"vantage": "host", "host": target.host, "port": target.port, "db": target.db,
                  "error": error, "in_task_probe": from_tasks,
                  **(failure.evidence() if isinstance(failure, DeadEndpoint) else {})},
        variant="counts_in_tasks" if task_counts else None, host=target.host, port=target.port)
    if task_counts:
        ctx.unknown(
            f"key-split search and head-job details skipped: Redis {target.host}:{target.port} not reachable "
            f"from the doctor's host ({what}); queue counts read through the in-task probe",
            unlock="run ame-doctor where the Redis endpoint is reachable (e.g. a bastion in the worker VPC)")
    else:
        ctx.unknown(
            f"Redis {target.host}:{target.port} not reachable from vantage host (the doctor's host): "
            f"{error}. The in-task probe read no queue counts (exec off or no php); run the "
            "doctor where Redis is reachable, or with --exec, to read them",
            unlock="--exec ecs-exec|probe-task, or run ame-doctor where the Redis endpoint is reachable")
    return None, note


def _redis_findings(ctx: CheckContext, for_db: Any, target: RedisTarget, consumers: list[Consumer],
                    values: dict[str, str]) -> Iterator[Finding]:
    cfg = ctx.config
    by_queue = {c.queue: c for c in consumers}
    # where each queue is popped: its own service's location, else the SSM target
    names = [*cfg.queues, "default"]
    loc: dict[str, tuple[int, str]] = {}
    for q in names:
        c = by_queue.get(q)
        loc[q] = (c.db, c.prefix) if c is not None else (target.db, target.prefix)

    sample = float(getattr(cfg.run, "sample", 0) or 0)
    budget = (ctx.meta.timeout or cfg.run.check_timeout) - SAMPLE_MARGIN
    sample_capped = sample > budget
    sample = max(0.0, min(sample, budget))
    readings: dict[str, list[QueueSnapshot]] = {q: [] for q in names}
    steps = 3 if sample >= 2 else (2 if sample > 0 else 1)
    for i in range(steps):
        if i:
            time.sleep(sample / (steps - 1))
        for q in names:
            db, prefix = loc[q]
            readings[q].append(inspect_queue(for_db(db), prefix, q, db))

    # key split first (bounded SCAN across DBs): a queue whose jobs sit under another key is not "draining"
    try:
        dbs = sorted(set(keyspace_dbs(for_db(target.db))) | {target.db} | {d for d, _ in loc.values()})
    except Exception as e:
        dbs = [target.db]
        ctx.unknown(f"INFO keyspace failed ({type(e).__name__}); key-split search limited to db{target.db}")
    scan = scan_queue_keys(for_db, dbs)
    if not scan.complete:
        ctx.unknown("key-split SCAN hit its call budget or a DB could not be scanned"
                    + (f" ({'; '.join(scan.errors)})" if scan.errors else ""))
    settings = worker_settings(values, target.source, cfg.redis.prefix, cfg.redis.db)
    splits = judge_key_split(scan, loc, (target.db, target.prefix), settings)
    stranded = {s.resource for s in splits if s.evidence.get("stranded_jobs")}

    _read_activity(ctx, consumers, [readings[q][-1] for q in names])
    for q in names:
        where = Reading("host", cfg.service_for(q), cfg.ecs.cluster, stranded=q in stranded)
        yield from _report(ctx, judge_queue(q, readings[q][-1], readings[q], by_queue.get(q), consumers, where))
        if sample > 0:
            yield from _report(ctx, [judge_trend(q, readings[q], sample_capped, where)])
    yield from _report(ctx, splits)


# --- failed_jobs --------------------------------------------------------------------------------
@dataclass
class FailedJobsRead:
    """What reading failed_jobs met (read in the background, reported at the end in the check's order)."""

    db: DbTarget
    host: str | None = None            # where it was read: DB_HOST, or the live writer when DB_HOST is stale
    live: DataStore | None = None      # the live cluster read through instead of DB_HOST
    rows: list[dict[str, Any]] | None = None
    not_read: str | None = None        # why not (the check's unknown reason)
    unlock: str | None = None


def _read_failed_jobs(ctx: CheckContext, connect: float, read: float) -> FailedJobsRead:
    db = ctx.facts.db_target()
    if not db.host:
        return FailedJobsRead(db, not_read="failed_jobs not read: no DB_HOST in SSM and no [database] host",
                              unlock="[database] host")
    out = FailedJobsRead(db, host=db.host)
    if db.source == "ssm":
        try:
            out.live, several = writer_for_stale_db_host(ctx.facts, db.host, ctx.config.database.cluster)
        except Exception:
            out.live, several = None, []  # RDS unreadable: read through DB_HOST as configured
        if several:
            out.not_read = (f"failed_jobs not read: DB_HOST names no live Aurora cluster and the account has several "
                            f"({', '.join(several)}); set [database] cluster to read them through its writer")
            out.unlock = "[database] cluster"
            return out
        if out.live is not None:
            out.host = out.live.writer_endpoint
    host = out.host
    assert host is not None
    with ctx.facts.dead_endpoints.attempt("host", host, db.port, wait=connect + 2 * read) as turn:
        dead = turn.dead
        if dead is None:
            try:
                address = connect_address(host, ctx.config.dns.nameservers)
                out.rows = read_failed_jobs(address, db.port, db.username, db.password, db.database, minutes=60,
                                            timeout=connect, read_timeout=read)
            except FailedJobsUnavailable as e:
                if e.timed_out is None:
                    out.not_read = f"failed_jobs not read (vantage host): {e.reason}"
                else:
                    dead = turn.timed_out(e.timed_out, connect if e.timed_out == "connect" else read)
            except Exception as e:
                out.not_read = f"failed_jobs not read (vantage host): {host} {type(e).__name__}: {e}"
    if dead is not None:  # measured now or earlier in the run: reported alike
        out.not_read = (f"failed_jobs not read (vantage host): {dead.detail} "
                        f"(measured {dead.measured_at:%H:%M:%S} UTC)")
    return out


def _failed_jobs(ctx: CheckContext, read: FailedJobsRead) -> Iterator[Finding]:
    db, live = read.db, read.live
    if live is not None:
        yield ctx.finding("failed_jobs_source", live.id, evidence={
            "db_host": db.host, "read_through": read.host, "cluster": live.id, "credentials": "SSM (DB_USERNAME)"},
            resources=[str(db.host), live.id], db_host=db.host, writer=read.host, cluster=live.id)
    if read.not_read is not None:
        ctx.unknown(read.not_read, unlock=read.unlock)
        return
    for row in read.rows or []:
        row["first_line"] = ctx.redactor.scrub(row["first_line"])
    for r in judge_failed_jobs(read.rows or [], ctx.config.service_for, db.database):
        if live is not None:
            r.evidence.update(read_through=read.host, db_host=db.host)
        yield from _report(ctx, [r])


def _aws_like(e: Exception) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(e, ClientError | BotoCoreError)
