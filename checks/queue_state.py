"""queue.state — what Redis, the task definitions and failed_jobs say about draining (DESIGN section 5)."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from doctor.aws import denied_action
from doctor.checkapi import CheckContext, CheckMeta, check
from doctor.facts import RedisTarget, laravel_redis_prefix
from doctor.model import Finding
from doctor.queues import (
    DEFAULT_RETRY_AFTER,
    GRACE_SECONDS,
    FailedJobsUnavailable,
    QueueSnapshot,
    ScanResult,
    command_words,
    inspect_queue,
    keyspace_dbs,
    parse_worker_command,
    prefix_origin,
    queue_key,
    read_failed_jobs,
    resolve_host,
    scan_queue_keys,
)

META = CheckMeta(
    id="queue.state",
    title="Queues drain: Redis state, routing, retries and failed jobs",
    order=10,
    proves="Per heavy queue and `default`: ready/reserved/delayed counts, expired reservations and overdue delayed "
    "jobs (nobody popping), the age and attempts of the head jobs — read with O(1)/O(log n) Redis commands only; "
    "no key split across prefixes or DBs; each heavy queue consumed by exactly its own ECS service and `default` "
    "by none; no `queue:work sync`; worker --timeout below retry_after; recent failed_jobs by queue and exception; "
    "with --sample, the drain rate and time to empty.",
    why="Queue depth alone is not health. A backlog whose reservations expired or whose delayed jobs are overdue "
    "means nothing pops it (no running worker, the wrong prefix/DB/connection/queue name); a worker whose --timeout "
    "reaches retry_after runs jobs twice; jobs cycling through delayed with attempts > 0 fail and retry instead of "
    "completing. Scaling such a queue wider does not help.",
    remediation="Fix the worker command (`php artisan queue:work redis --queue=<name> --timeout=<below retry_after>`) "
    "in a new task definition revision, align APP_NAME / REDIS_PREFIX / REDIS_DB between the web tier and the workers, "
    "and read failed_jobs before retrying (`php artisan queue:retry all`).",
    iam_actions=("ssm:GetParametersByPath", "ecs:DescribeServices", "ecs:DescribeTaskDefinition"),
    needs=("aws", "redis", "mysql"),
)

SAMPLE_MARGIN = 20.0  # seconds of the check deadline kept free when sampling


@dataclass
class Consumer:
    service: str
    queue: str                     # the heavy queue the service is configured for
    command: Any                   # WorkerCommand | None
    connection: str | None = None  # effective connection
    queues: list[str] = field(default_factory=list)  # effective queue list (priority order)
    db: int = 0
    prefix: str = ""
    running: int | None = None
    retry_after: int = DEFAULT_RETRY_AFTER
    location_source: str = "SSM + task definition environment"


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    try:
        values = ctx.facts.ssm_values()
    except Exception as e:
        values = {}
        action = denied_action(e)
        ctx.unknown(f"SSM values unreadable ({action or type(e).__name__}); using config and defaults",
                         unlock=action)
    target = ctx.facts.redis_target()

    consumers = yield from _routing(ctx, values, target)

    probes = _probe_locations(ctx, consumers)
    task_readings = {svc: r for svc, r in probes.items() if r.ok and (r.queues or {}).get("queues")}
    pool, note = _connect(ctx, target, probes, bool(task_readings))
    if note is not None:
        yield note
    if pool is None and task_readings:
        yield from _task_vantage(ctx, task_readings, consumers)
    if pool is not None:
        try:
            yield from _redis_findings(ctx, pool.client, target, consumers, values)
        finally:
            pool.close()

    yield from _failed_jobs(ctx)


# --- routing ----------------------------------------------------------------------------------
def _routing(ctx: CheckContext, values: dict[str, str],
             target: RedisTarget) -> Generator[Finding, None, list[Consumer]]:
    cfg = ctx.config
    cluster = cfg.ecs.cluster
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
        env = {e["name"]: e.get("value", "") for e in container.get("environment", []) or [] if "name" in e}
        merged = {**values, **env}
        words = command_words(container)
        cmd = parse_worker_command(words)
        c = Consumer(service=qcfg.service, queue=queue, command=cmd, running=svc.get("runningCount"),
                     retry_after=_int(merged.get("REDIS_QUEUE_RETRY_AFTER"), DEFAULT_RETRY_AFTER),
                     db=_int(env.get("REDIS_DB"), target.db),
                     prefix=laravel_redis_prefix(merged) if cfg.redis.prefix is None
                     else env.get("REDIS_PREFIX", target.prefix))
        td_ref = f"{td.get('family', qcfg.service)}:{td.get('revision', '?')}"
        if cmd is None:
            ctx.unknown(f"{qcfg.service}: no queue:work command in task definition {td_ref} "
                             "(the image's default CMD is not visible to the doctor)")
            consumers.append(c)
            continue
        if cmd.command == "horizon":
            ctx.unknown(f"{qcfg.service} runs Horizon: its queues are in config/horizon.php, not the command")
            c.command = None
            consumers.append(c)
            continue
        c.connection = cmd.connection or merged.get("QUEUE_CONNECTION") or "sync"
        conn_queue = merged.get("REDIS_QUEUE") or "default"
        c.queues = list(cmd.queues) if cmd.queues else [conn_queue]
        consumers.append(c)
        opts = cmd.effective()
        evidence = {"service": qcfg.service, "queue": queue, "task_definition": td_ref, "container": name,
                    "command": cmd.raw, "connection": c.connection, "queues": c.queues, "tries": opts["tries"],
                    "max_jobs": opts["max_jobs"], "memory_mb": opts["memory"], "timeout_s": opts["timeout"],
                    "sleep_s": opts["sleep"], "max_time_s": opts["max_time"], "retry_after_s": c.retry_after,
                    "redis_db": c.db, "redis_prefix": c.prefix}
        if c.connection == "sync" or cmd.connection == "sync":
            yield ctx.legacy_finding(
                "sync_connection_trap", qcfg.service, "critical",
                f"{qcfg.service} runs `queue:work sync`: the sync connection never pops a job",
                detail="The first argument of queue:work is the connection, not the queue. `sync` is a no-op "
                "driver, so this worker idles while the Redis queue grows."
                + ("" if cmd.connection else " (no connection argument and QUEUE_CONNECTION is unset or 'sync')"),
                evidence=evidence, resources=[qcfg.service, td_ref], signals=["queue.sync_connection_trap"],
                remediation=f"Register a task definition revision whose command is `php artisan queue:work redis "
                f"--queue={queue} ...` and `aws ecs update-service --cluster {cluster} --service {qcfg.service} "
                "--task-definition <new revision>`.")
        if "default" in c.queues:
            yield ctx.legacy_finding(
                "default_in_heavy_path", qcfg.service, "error",
                f"{qcfg.service} consumes the `default` queue",
                detail="`default` stays on the app hosts; a heavy ECS worker draining it takes light jobs into the "
                "heavy path (and competes with the app hosts)."
                + ("" if cmd.queues else " The command has no --queue, so the connection's default queue is used."),
                evidence=evidence, resources=[qcfg.service, td_ref], signals=["queue.default_in_heavy_path"],
                remediation=f"Set an explicit `--queue={queue}` in {qcfg.service}'s command (new task definition "
                "revision) and redeploy.")
        if opts["timeout"] >= c.retry_after or (opts["timeout"] == 0 and c.retry_after):
            yield ctx.legacy_finding(
                "timeout_ge_retry_after", qcfg.service, "error",
                f"{qcfg.service}: worker --timeout={opts['timeout']} is not below retry_after={c.retry_after}",
                detail="A job still running when its reservation expires (retry_after) is popped again by another "
                "worker: it runs twice, and attempts climb until MaxAttemptsExceeded.",
                evidence=evidence, resources=[qcfg.service, td_ref], signals=["queue.timeout_ge_retry_after"],
                remediation=f"Make --timeout several seconds shorter than retry_after (e.g. --timeout="
                f"{max(1, c.retry_after - 10)}), or raise REDIS_QUEUE_RETRY_AFTER in SSM above the longest job.")
        yield ctx.legacy_finding(
            "worker", qcfg.service, "info",
            f"{qcfg.service}: {cmd.command} {c.connection} --queue={','.join(c.queues)} tries={opts['tries']} "
            f"timeout={opts['timeout']}s max-jobs={opts['max_jobs']} memory={opts['memory']}MB",
            evidence=evidence, resources=[qcfg.service, td_ref], remediation="")

    # each heavy queue consumed by exactly its own service
    by_service = {c.service: c for c in consumers}
    known = [c for c in consumers if c.command is not None]
    for queue, qcfg in cfg.queues.items():
        popping = [c for c in known if queue in c.queues and c.connection != "sync"]
        own = by_service.get(qcfg.service)
        if own is not None and own.command is None:
            continue  # its command is unknown (marked above)
        others = [c.service for c in popping if c.service != qcfg.service]
        ev = {"queue": queue, "service": qcfg.service, "consumed_by": [c.service for c in popping]}
        if not popping and (own is not None or not others):
            yield ctx.legacy_finding(
                "unrouted", queue, "error", f"Heavy queue `{queue}` is consumed by no ECS worker",
                detail=f"No worker task definition names `{queue}` in its --queue list with a Redis connection"
                + (f"; {qcfg.service} is missing from the cluster" if own is None else "") + ".",
                evidence=ev, resources=[queue, qcfg.service], signals=["queue.unrouted"],
                remediation=f"Give {qcfg.service} the command `php artisan queue:work redis --queue={queue}` "
                "(new task definition revision) and redeploy.")
        elif own is not None and qcfg.service not in ev["consumed_by"]:
            yield ctx.legacy_finding(
                "misrouted", queue, "warning",
                f"Heavy queue `{queue}` is consumed by {', '.join(others)}, not by its own service {qcfg.service}",
                evidence=ev, resources=[queue, qcfg.service, *others],
                remediation=f"Route `{queue}` to {qcfg.service} only (--queue={queue}).")
        elif others:
            yield ctx.legacy_finding(
                "shared_consumer", queue, "warning",
                f"Heavy queue `{queue}` is also consumed by {', '.join(others)}",
                detail="Each heavy queue should be drained by exactly its own service; a shared --queue list "
                "starves the lower-priority queues and scales them together.",
                evidence=ev, resources=[queue, *others], remediation=f"Remove `{queue}` from the --queue list of "
                f"{', '.join(others)}.")
    return consumers


# --- in-task view ---------------------------------------------------------------------------
def _probe_locations(ctx: CheckContext, consumers: list[Consumer]) -> dict[str, Any]:
    """The effective Redis prefix / DB inside each worker (the in-task probe reads bootstrap/cache/config.php
    when present, else the env), shared with reach.redis through the facts memo. {} when exec is off."""
    cfg = ctx.config
    if cfg.exec.transport == "off" and cfg.exec.fallback == "off" or not consumers:
        return {}
    from doctor.probe import probe_all

    deadline = min(cfg.exec.timeout + 5, (ctx.meta.timeout or cfg.run.check_timeout) / 3)
    results = probe_all(ctx.facts, [c.service for c in consumers], deadline)
    for c in consumers:
        r = results.get(c.service)
        env = (r.env or {}) if r is not None and r.ok else {}
        if env.get("redis_prefix") is not None:
            c.prefix = str(env["redis_prefix"])
            c.db = _int(env.get("redis_db"), c.db)
            c.location_source = f"in-task probe ({env.get('source', '?')}, vantage {r.vantage})"  # type: ignore[union-attr]
    return results


# --- Redis ------------------------------------------------------------------------------------
class _Pool:
    """One Redis client per DB index, same connection settings."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs
        self.clients: dict[int, Any] = {}

    def client(self, db: int) -> Any:
        import redis

        if db not in self.clients:
            self.clients[db] = redis.Redis(db=db, **self.kwargs)
        return self.clients[db]

    def close(self) -> None:
        for c in self.clients.values():
            c.close()


def _connect(ctx: CheckContext, target: RedisTarget, probes: dict[str, Any],
             task_counts: bool = False) -> tuple[_Pool | None, Finding | None]:
    """A client pool for the target after a PING, or None (with the vantage in the reason). When the in-task
    probe read the queue counts (``task_counts``) the check is not unknown: only the key-split search is."""
    if not target.host:
        ctx.unknown("Redis not inspected: no REDIS_HOST in SSM and no [redis] host in the config",
                         unlock="[redis] host")
        return None, None
    try:
        address = resolve_host(target.host, ctx.config.dns.nameservers)
    except Exception as e:
        ctx.unknown(f"Redis not inspected from vantage host (the doctor's host): {target.host} does not resolve "
                         f"({type(e).__name__}: {e}); dns.resolve reports why"
                         + ("; queue counts read through the in-task probe, key-split search skipped" if task_counts
                            else ""))
        return None, ctx.legacy_finding(
            "vantage", "redis", "info", f"Queue numbers not read: {target.host} does not resolve from the doctor's host",
            evidence={"vantage": "host", "host": target.host, "port": target.port,
                      "nameservers": ctx.config.dns.nameservers or ["system resolver"],
                      "error": f"{type(e).__name__}: {e}"}, remediation="")
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    kwargs: dict[str, Any] = dict(host=address, port=target.port, password=target.password,
                                  socket_timeout=5, socket_connect_timeout=5, retry=Retry(NoBackoff(), 1))
    if target.tls:
        kwargs.update(ssl=True, ssl_cert_reqs="required", ssl_check_hostname=address == target.host)
    pool = _Pool(kwargs)
    try:
        pool.client(target.db).ping()
    except Exception as e:
        pool.close()
        from_tasks = {svc: {k: (r.redis or {}).get(k) for k in ("tcp", "reply", "role")} | {"ok": r.ok}
                      for svc, r in probes.items()}
        note = ctx.legacy_finding(
            "vantage", "redis", "info",
            f"Redis {target.host}:{target.port} unreachable from the doctor's host"
            + ("; queue counts read inside the worker tasks" if task_counts else ": queue numbers not read"),
            detail="Queue counts were read by the in-task probe (LLEN/ZCARD/ZCOUNT under each worker's own prefix "
            "and DB); head-job ages, attempts and the key-split SCAN need the doctor's host to reach Redis."
            if task_counts else "The in-task probe ran no queue reading (off, or no php in the image); it proves "
            "reachability from each worker (reach.redis) only.",
            evidence={"vantage": "host", "host": target.host, "port": target.port, "db": target.db,
                      "error": f"{type(e).__name__}: {e}", "in_task_probe": from_tasks}, remediation="")
        if task_counts:
            ctx.unknown(
                f"key-split search and head-job details skipped: Redis {target.host}:{target.port} not reachable "
                f"from the doctor's host ({type(e).__name__}); queue counts read through the in-task probe",
                unlock="run ame-doctor where the Redis endpoint is reachable (e.g. a bastion in the worker VPC)")
        else:
            ctx.unknown(
                f"Redis {target.host}:{target.port} not reachable from vantage host (the doctor's host): "
                f"{type(e).__name__}: {e}. The in-task probe read no queue counts (exec off or no php); run the "
                "doctor where Redis is reachable, or with --exec, to read them",
                unlock="--exec ecs-exec|probe-task, or run ame-doctor where the Redis endpoint is reachable")
        return None, note
    return pool, None


def _task_vantage(ctx: CheckContext, readings: dict[str, Any], consumers: list[Consumer]) -> Iterator[Finding]:
    """Depth and draining judgement from counts the in-task probe read (vantage ``task:<service>``): each
    heavy queue from its own service's task (where its workers pop), ``default`` from any task."""
    cluster = ctx.config.ecs.cluster
    by_queue = {c.queue: c for c in consumers}
    any_reading = next(iter(readings.values()))
    for q in [*ctx.config.queues, "default"]:
        own = readings.get(ctx.config.service_for(q) or "") or any_reading
        data = own.queues or {}
        counts = (data.get("queues") or {}).get(q)
        if not counts or any(not isinstance(counts.get(k), int) for k in ("ready", "reserved", "delayed")):
            continue
        prefix, db = str(data.get("prefix", "")), _int(data.get("db"), 0)
        snap = QueueSnapshot(name=q, key=queue_key(prefix, q), db=db, at=float(data.get("at") or time.time()),
                             ready=counts["ready"], reserved=counts["reserved"], delayed=counts["delayed"],
                             expired_reserved=int(counts.get("expired_reserved") or 0),
                             overdue_delayed=int(counts.get("overdue_delayed") or 0))
        for attr, n, score in (("oldest_expired_reserved_s", snap.expired_reserved, counts.get("oldest_reserved_score")),
                               ("oldest_overdue_delayed_s", snap.overdue_delayed, counts.get("oldest_delayed_score"))):
            if n and isinstance(score, int | float):
                setattr(snap, attr, round(snap.at - float(score), 1))
            elif n:
                setattr(snap, attr, GRACE_SECONDS)  # at least the grace, by the ZCOUNT bound
        yield from _judge(ctx, q, snap, [snap], by_queue.get(q), consumers, own.vantage, cluster, False)


def _redis_findings(ctx: CheckContext, for_db: Any, target: RedisTarget, consumers: list[Consumer],
                    values: dict[str, str]) -> Iterator[Finding]:
    cfg = ctx.config
    cluster = cfg.ecs.cluster
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
    splits = list(_key_split(ctx, scan, loc, target, values))
    stranded = {f.evidence["queue"] for f in splits if f.evidence.get("stranded_jobs")}

    vantage = "host"
    for q in names:
        snap = readings[q][-1]
        c = by_queue.get(q)
        yield from _judge(ctx, q, snap, readings[q], c, consumers, vantage, cluster, q in stranded)
        if sample > 0:
            yield from _trend(ctx, q, readings[q], c, sample_capped, vantage, q in stranded)
    yield from splits


def _judge(ctx: CheckContext, q: str, snap: QueueSnapshot, readings: list[QueueSnapshot], c: Consumer | None,
           consumers: list[Consumer], vantage: str, cluster: str, stranded: bool) -> Iterator[Finding]:
    ev = {**snap.counts(), "vantage": vantage, "head_jobs": snap.heads(), "grace_s": GRACE_SECONDS,
          "jobs_under_another_key": stranded}
    service = ctx.config.service_for(q)
    if service:
        ev["service"] = service
    if c is not None:
        ev["location_source"] = c.location_source
    res = [snap.key] + ([service] if service else [])
    popping = [x for x in consumers if x.command is not None and q in x.queues and x.connection != "sync"]
    running = sum(int(x.running or 0) for x in popping)
    routing_known = q == "default" or (c is not None and c.command is not None)
    ev["running_consumers"] = running if q != "default" else None

    signals = ["queue.backlog"] if snap.ready > 0 else []
    if snap.total == 0 and not stranded:
        signals.append("queue.draining")
    title = (f"{q}: {snap.ready} ready, {snap.reserved} reserved, {snap.delayed} delayed"
             + (f"; oldest ready {snap.oldest_age_s:g}s" if snap.oldest_age_s is not None else ""))
    yield ctx.legacy_finding("depth", q, "info", title, evidence=ev, resources=res, signals=signals, remediation="")

    stale = snap.expired_reserved > 0 or snap.overdue_delayed > 0
    no_running = q != "default" and routing_known and running == 0
    if snap.ready > 0 and (stale or no_running):
        why = []
        if no_running:
            why.append("no running task of a service that consumes it" if popping else "no service consumes it")
        if snap.expired_reserved:
            why.append(f"{snap.expired_reserved} reservation(s) expired {snap.oldest_expired_reserved_s:g}s ago")
        if snap.overdue_delayed:
            why.append(f"{snap.overdue_delayed} delayed job(s) overdue by up to {snap.oldest_overdue_delayed_s:g}s")
        yield ctx.legacy_finding(
            "no_consumer", q, "critical" if no_running else "error",
            f"Nothing is popping `{q}`: {snap.ready} ready job(s) and " + "; ".join(why),
            detail="Laravel's pop first migrates due delayed jobs and expired reservations back to the list; entries "
            "past their score mean no worker has popped this key since — no running worker, workers on another "
            "prefix/DB/connection/queue name, all workers stuck in long jobs, or starvation behind a "
            "higher-priority queue.",
            evidence=ev, resources=res, signals=["queue.no_consumer"],
            remediation=(f"aws ecs describe-services --cluster {cluster} --services {service} ; check the worker "
                         f"command is `queue:work redis --queue={q}` and reach.redis passes from the task"
                         if service else "Check the app hosts' queue workers for `default` (supervisor / systemd)."))
    if snap.expired_reserved:
        yield ctx.legacy_finding(
            "stale_reservations", q, "error",
            f"`{q}`: {snap.expired_reserved} reservation(s) expired (oldest {snap.oldest_expired_reserved_s:g}s past "
            "retry_after)",
            detail="A reservation's score is pop time + retry_after; an expired one is moved back by the next pop. "
            "Expired entries mean no pop since (or a worker killed mid-job and nobody popping after it).",
            evidence=ev, resources=res, signals=["queue.stale_reservations"], remediation="")
    if snap.overdue_delayed:
        yield ctx.legacy_finding(
            "overdue_delayed", q, "error" if snap.ready or snap.overdue_delayed > 1 else "warning",
            f"`{q}`: {snap.overdue_delayed} delayed job(s) overdue (up to {snap.oldest_overdue_delayed_s:g}s)",
            detail="Due delayed jobs move to the ready list on every pop; overdue ones mean nobody popped.",
            evidence=ev, resources=res, signals=["queue.overdue_delayed"], remediation="")

    # attempts of the head jobs against maxTries (job's own, else the worker's --tries)
    worker_tries = c.command.effective()["tries"] if c is not None and c.command is not None else None
    exhausted = []
    for h in [*snap.head, *snap.delayed_sample]:
        limit = h.max_tries if h.max_tries is not None else worker_tries
        if h.attempts is not None and limit and h.attempts >= limit:
            exhausted.append({"id": h.id, "job": h.display_name, "attempts": h.attempts, "max_tries": limit})
    if exhausted:
        yield ctx.legacy_finding(
            "attempts_exhausted", q, "warning",
            f"`{q}`: {len(exhausted)} sampled job(s) already used all their tries",
            detail="A job popped with attempts >= maxTries fails at once with MaxAttemptsExceededException.",
            evidence={**ev, "exhausted": exhausted}, resources=res, signals=["queue.attempts_exhausted"],
            remediation="Read the failure (failed_jobs / logs) before retrying; raise --tries only if the job is "
            "meant to retry.")
    retried = [h for h in snap.delayed_sample if (h.attempts or 0) > 0]
    retried_head = [h for h in snap.head if (h.attempts or 0) > 0]
    if snap.delayed >= 5 and len(retried) * 2 >= max(1, len(snap.delayed_sample)) or (
            len(retried_head) >= 2 and snap.ready >= 5):
        yield ctx.legacy_finding(
            "failing_requeue", q, "error",
            f"`{q}`: jobs are failing and being released back ({len(retried)}/{len(snap.delayed_sample)} sampled "
            f"delayed and {len(retried_head)}/{len(snap.head)} head jobs have attempts > 0)",
            detail="Jobs cycling through delayed with attempts > 0 are popped, fail or time out, and are released; "
            "the backlog churns without draining. Scaling wider multiplies the failures.",
            evidence={**ev, "delayed_sample": [{"job": h.display_name, "attempts": h.attempts,
                                                "max_tries": h.max_tries} for h in snap.delayed_sample]},
            resources=res, signals=["queue.failing_requeue"],
            remediation="Find the failure (ecs.startup log signatures, failed_jobs), fix it, then let the queue drain "
            "at the current width.")
    # one reading of a stuck head over the sample window: nobody popped at all
    if len(readings) > 1 and snap.ready > 0 and all(r.head_id and r.head_id == snap.head_id for r in readings) \
            and all(r.ready >= readings[0].ready for r in readings) and snap.reserved == 0 \
            and not (snap.ready > 0 and (stale or no_running)):
        yield ctx.legacy_finding(
            "no_consumer", q, "error",
            f"Nothing popped `{q}` during the {readings[-1].at - readings[0].at:.0f}s sample: the head job did not "
            "change and nothing is reserved",
            evidence={**ev, "sampled_s": round(readings[-1].at - readings[0].at, 1)}, resources=res,
            signals=["queue.no_consumer"], remediation="")


def _trend(ctx: CheckContext, q: str, readings: list[QueueSnapshot], c: Consumer | None, capped: bool,
           vantage: str, stranded: bool) -> Iterator[Finding]:
    first, last = readings[0], readings[-1]
    elapsed = max(1e-6, last.at - first.at)
    rate_per_min = round((first.total - last.total) / elapsed * 60, 2)
    tte = round(last.total / (rate_per_min / 60), 1) if rate_per_min > 0 and last.total else (0.0 if last.total == 0
                                                                                               else None)
    ev = {**last.counts(), "vantage": vantage, "sampled_s": round(elapsed, 1), "readings": len(readings),
          "sizes": [r.total for r in readings], "drain_rate_per_min": rate_per_min, "time_to_empty_s": tte,
          "sample_capped_by_check_timeout": capped}
    service = ctx.config.service_for(q)
    if service:
        ev["service"] = service
    res = [last.key] + ([service] if service else [])
    if last.total > first.total:
        yield ctx.legacy_finding(
            "trend", q, "warning",
            f"`{q}` backlog growing: {first.total} -> {last.total} in {elapsed:.0f}s "
            f"({-rate_per_min:g}/min)", evidence=ev, resources=res, signals=["queue.backlog_growing"],
            remediation="Do not scale wider until the checks above show the workers consuming; then scale within "
            "the queue's range.")
    elif rate_per_min > 0 or (last.total == 0 and not stranded):
        yield ctx.legacy_finding(
            "trend", q, "info",
            f"`{q}` draining: {first.total} -> {last.total} in {elapsed:.0f}s"
            + (f" ({rate_per_min:g}/min, empty in ~{tte:.0f}s)" if tte else ""),
            evidence=ev, resources=res, signals=["queue.draining"], remediation="")
    else:
        yield ctx.legacy_finding("trend", q, "info", f"`{q}` backlog flat at {last.total} over {elapsed:.0f}s",
                          evidence=ev, resources=res, remediation="")


def _key_split(ctx: CheckContext, scan: ScanResult, loc: dict[str, tuple[int, str]],
               target: RedisTarget, values: dict[str, str]) -> Iterator[Finding]:
    consumed = set(loc.values())
    # the workers' own values (non-secret) that derive their key: SSM unless [redis] overrides
    settings = {"APP_NAME": values.get("APP_NAME", "unset (Laravel default 'Laravel')"),
                "REDIS_PREFIX": repr(values["REDIS_PREFIX"]) if "REDIS_PREFIX" in values else "unset",
                "REDIS_DB": values.get("REDIS_DB", "unset (0)"), "source": target.source,
                **({"[redis] prefix": ctx.config.redis.prefix} if ctx.config.redis.prefix is not None else {}),
                **({"[redis] db": ctx.config.redis.db} if ctx.config.redis.db is not None else {})}
    for name in sorted({x.queue for x in scan.locations}):
        places = [x for x in scan.locations if x.queue == name]
        expected = loc.get(name)
        if expected is not None:
            elsewhere = [x for x in places if (x.db, x.prefix) != expected]
        else:
            # a queue no configured worker pops: only a non-empty list under a prefix no worker uses matters
            elsewhere = [x for x in places if (x.db, x.prefix) not in consumed and x.parts.get("ready", 0) > 0]
        if not elsewhere:
            continue
        exp_db, exp_prefix = expected if expected else (target.db, target.prefix)
        exp_key = queue_key(exp_prefix, name)
        here = next((x for x in places if (x.db, x.prefix) == (exp_db, exp_prefix)), None)
        others = [{"key": x.key, "db": x.db, "prefix": x.prefix, "lengths": x.parts,
                   "produced_by": prefix_origin(x.prefix, x.db)} for x in elsewhere]
        stranded = sum(x.parts.get("ready", 0) + x.parts.get("delayed", 0) for x in elsewhere)
        yield ctx.legacy_finding(
            "key_split", name, "error" if stranded else "warning",
            f"`{name}` is split: workers pop db{exp_db} {exp_key}"
            + (f" ({sum(here.parts.get(k, 0) for k in ('ready', 'delayed', 'reserved'))} jobs)" if here else
               " (empty)")
            + f", but {', '.join(f'db{x.db} {x.key}' for x in elsewhere)} holds {stranded} job(s) no worker pops",
            detail="Producers and consumers derive different keys (APP_NAME / REDIS_PREFIX / REDIS_DB / REDIS_URL "
            "differ between the web tier and the workers, or config:cache baked an old value): jobs pushed to the "
            "other key are never popped.",
            evidence={"queue": name, "workers_key": {"key": exp_key, "db": exp_db, "prefix": exp_prefix,
                                                     "lengths": here.parts if here else {},
                                                     "produced_by": prefix_origin(exp_prefix, exp_db),
                                                     "workers_settings": settings},
                      "other_keys": others, "stranded_jobs": stranded, "scan_complete": scan.complete},
            resources=[exp_key, *(x.key for x in elsewhere)], signals=["queue.key_split"],
            remediation="Make APP_NAME / REDIS_PREFIX / REDIS_DB identical in the web tier's .env and the workers' "
            "SSM values (see env.drift), rebuild config:cache, redeploy; then move the stranded jobs (e.g. a "
            "one-off RPOPLPUSH loop from the other key into the workers' key).")


# --- failed_jobs --------------------------------------------------------------------------------
def _failed_jobs(ctx: CheckContext) -> Iterator[Finding]:
    db = ctx.facts.db_target()
    if not db.host:
        ctx.unknown("failed_jobs not read: no DB_HOST in SSM and no [database] host", unlock="[database] host")
        return
    try:
        address = resolve_host(db.host, ctx.config.dns.nameservers)
        rows = read_failed_jobs(address, db.port, db.username, db.password, db.database,
                                minutes=60)
    except FailedJobsUnavailable as e:
        ctx.unknown(f"failed_jobs not read (vantage host): {e.reason}")
        return
    except Exception as e:
        ctx.unknown(f"failed_jobs not read (vantage host): {db.host} {type(e).__name__}: {e}")
        return
    by_queue: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        row["first_line"] = ctx.redactor.scrub(row["first_line"])
        by_queue.setdefault(row["queue"], []).append(row)
    for queue, items in sorted(by_queue.items()):
        total = sum(i["count"] for i in items)
        top = items[0]
        service = ctx.config.service_for(queue)
        yield ctx.legacy_finding(
            "failed_jobs_recent", queue, "warning",
            f"`{queue}`: {total} job(s) failed in the last hour (top: {top['exception']} x{top['count']})",
            evidence={"queue": queue, "failed_last_hour": total, "by_exception": items, "database": db.database,
                      "vantage": "host", **({"service": service} if service else {})},
            resources=[queue] + ([service] if service else []), signals=["queue.failed_jobs_recent"],
            remediation="Fix the cause shown by the exception before `php artisan queue:retry all`; "
            "`php artisan queue:failed` lists them.")


def _aws_like(e: Exception) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(e, ClientError | BotoCoreError)


def _int(value: Any, default: int) -> int:
    try:
        return int(str(value).strip()) if value not in (None, "") else default
    except ValueError:
        return default
