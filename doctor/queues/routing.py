"""Which ECS service pops which queue, judged from the task definitions: pure functions on plain data.

Each heavy queue (``[queues.<name>] service = ...``) should be popped by exactly its own service with a
Redis connection; ``default`` stays on the app hosts, so no heavy worker should pop it. A worker whose
``--timeout`` reaches the connection's ``retry_after`` runs a job twice: the reservation expires while the
job still runs and another worker pops it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from doctor.facts import laravel_redis_prefix
from doctor.queues.activity import WorkerActivity
from doctor.queues.report import ToReport
from doctor.queues.workers import DEFAULT_RETRY_AFTER, WorkerCommand, parse_worker_command
from doctor.util import to_int


@dataclass
class WorkerSpec:
    """What the ECS service configured for one heavy queue runs (read from its task definition)."""

    queue: str                     # the heavy queue the service is configured for
    service: str
    task_definition: str           # family:revision
    container: str | None          # the worker container's name
    words: list[str]               # entryPoint + command, shell bodies split
    env: dict[str, str] = field(default_factory=dict)  # the container's environment
    running: int | None = None     # the service's runningCount


@dataclass
class Consumer:
    service: str
    queue: str                     # the heavy queue the service is configured for
    command: WorkerCommand | None  # None: no queue:work command, or Horizon (queues not in the command)
    connection: str | None = None  # effective connection
    queues: list[str] = field(default_factory=list)  # effective queue list (priority order)
    db: int = 0
    prefix: str = ""
    running: int | None = None
    retry_after: int = DEFAULT_RETRY_AFTER
    location_source: str = "SSM + task definition environment"
    activity: WorkerActivity | None = None  # its tasks' state and recent job lines (read when it matters)

    def pops(self, queue: str) -> bool:
        """Known to pop ``queue`` (its command names it, on a connection other than ``sync``)."""
        return self.command is not None and queue in self.queues and self.connection != "sync"

    def consuming(self, queue: str) -> bool:
        """Seen popping ``queue`` now: running, steady tasks that processed jobs recently, with ``queue`` first in
        their --queue list (a lower-priority queue is popped only when the ones before it are empty)."""
        return (self.pops(queue) and self.queues[0] == queue and self.activity is not None
                and self.activity.consuming)


@dataclass
class WorkerRouting:
    consumer: Consumer
    reports: list[ToReport]
    unknowns: list[str]            # what could not be judged (the check reports it as unknown)


def route_worker(spec: WorkerSpec, values: Mapping[str, str], *, default_db: int, default_prefix: str,
                 derive_prefix: bool, cluster: str) -> WorkerRouting:
    """The consumer one worker service is, and what its command gets wrong.

    ``values`` are the SSM values (the container environment wins over them); ``default_db`` and
    ``default_prefix`` are the Redis target's. With ``derive_prefix`` the prefix is derived the way Laravel
    does (REDIS_PREFIX, else the slug of APP_NAME + ``_database_``); without it (``[redis] prefix`` is set)
    it is the container's REDIS_PREFIX, else ``default_prefix``.
    """
    merged = {**values, **spec.env}
    cmd = parse_worker_command(spec.words)
    service, queue, td_ref = spec.service, spec.queue, spec.task_definition
    c = Consumer(service=service, queue=queue, command=cmd, running=spec.running,
                 retry_after=to_int(merged.get("REDIS_QUEUE_RETRY_AFTER"), DEFAULT_RETRY_AFTER),
                 db=to_int(spec.env.get("REDIS_DB"), default_db),
                 prefix=laravel_redis_prefix(merged) if derive_prefix else spec.env.get("REDIS_PREFIX", default_prefix))
    if cmd is None:
        return WorkerRouting(c, [], [f"{service}: no queue:work command in task definition {td_ref} "
                                     "(the image's default CMD is not visible to the doctor)"])
    if cmd.command == "horizon":
        c.command = None
        return WorkerRouting(c, [], [f"{service} runs Horizon: its queues are in config/horizon.php, not the command"])
    c.connection = cmd.connection or merged.get("QUEUE_CONNECTION") or "sync"
    c.queues = list(cmd.queues) if cmd.queues else [merged.get("REDIS_QUEUE") or "default"]
    opts = cmd.effective()
    evidence = {"service": service, "queue": queue, "task_definition": td_ref, "container": spec.container,
                "command": cmd.raw, "connection": c.connection, "queues": c.queues, "tries": opts["tries"],
                "max_jobs": opts["max_jobs"], "memory_mb": opts["memory"], "timeout_s": opts["timeout"],
                "sleep_s": opts["sleep"], "max_time_s": opts["max_time"], "retry_after_s": c.retry_after,
                "redis_db": c.db, "redis_prefix": c.prefix}
    resources = [service, td_ref]
    out = []
    if c.connection == "sync" or cmd.connection == "sync":
        out.append(ToReport("sync_connection_trap", service, evidence, resources, {
            "service": service, "queue": queue, "cluster": cluster,
            "connection_note": "" if cmd.connection
            else " (no connection argument and QUEUE_CONNECTION is unset or 'sync')"}))
    if "default" in c.queues:
        out.append(ToReport("default_in_heavy_path", service, evidence, resources, {
            "service": service, "queue": queue,
            "queue_note": "" if cmd.queues
            else " The command has no --queue, so the connection's default queue is used."}))
    if opts["timeout"] >= c.retry_after or (opts["timeout"] == 0 and c.retry_after):
        out.append(ToReport("timeout_ge_retry_after", service, evidence, resources, {
            "service": service, "timeout": opts["timeout"], "retry_after": c.retry_after,
            "suggested_timeout": max(1, c.retry_after - 10)}))
    out.append(ToReport("worker", service, evidence, resources, {
        "service": service, "command": cmd.command, "connection": c.connection, "queues": ",".join(c.queues),
        "tries": opts["tries"], "timeout": opts["timeout"], "max_jobs": opts["max_jobs"], "memory": opts["memory"]}))
    return WorkerRouting(c, out, [])


def route_queues(queues: Mapping[str, str], consumers: list[Consumer]) -> list[ToReport]:
    """Each heavy queue (``queues``: queue -> its own service, in config order) popped by exactly its own
    service. A queue whose own service's command is unknown is not judged."""
    by_service = {c.service: c for c in consumers}
    out = []
    for queue, service in queues.items():
        popping = [c for c in consumers if c.pops(queue)]
        own = by_service.get(service)
        if own is not None and own.command is None:
            continue  # its command is unknown (reported by route_worker)
        others = [c.service for c in popping if c.service != service]
        ev = {"queue": queue, "service": service, "consumed_by": [c.service for c in popping]}
        if not popping and (own is not None or not others):
            out.append(ToReport("unrouted", queue, ev, [queue, service], {
                "queue": queue, "service": service,
                "missing": "" if own is not None else f"; {service} is missing from the cluster"}))
        elif own is not None and service not in ev["consumed_by"]:
            out.append(ToReport("misrouted", queue, ev, [queue, service, *others],
                                {"queue": queue, "service": service, "others": ", ".join(others)}))
        elif others:
            out.append(ToReport("shared_consumer", queue, ev, [queue, *others],
                                {"queue": queue, "others": ", ".join(others)}))
    return out
