"""Per-run shared facts: fetched once, lazily, shared between checks (thread-safe memo).

Facts that several checks need live here (SSM values, ECS services, tasks, task definitions,
the Redis and DB targets, the endpoints found dead). Other modules add their own with
``facts.memo(key, fn)``: the network and data-store facts in :mod:`doctor.facts.network`,
:mod:`doctor.facts.security_groups` and :mod:`doctor.facts.datastores` are memoised the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from doctor.facts.laravel import laravel_redis_prefix
from doctor.net.hostprobe import DeadEndpoints
from doctor.net.targets import DbTarget, RedisTarget
from doctor.util import parse_datetime, to_datetime, to_int

if TYPE_CHECKING:
    from doctor.aws import AwsSession
    from doctor.config import Config
    from doctor.redact import Redactor

T = TypeVar("T")


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Facts:
    def __init__(self, config: Config, aws: AwsSession, redactor: Redactor) -> None:
        self.config = config
        self.aws = aws
        self.redactor = redactor
        self._memo: dict[Any, Any] = {}
        self._locks: dict[Any, threading.Lock] = {}
        self._guard = threading.Lock()
        self.now = datetime.now(UTC)
        self.dead_endpoints = DeadEndpoints()  # host:port found dead per vantage: not waited on twice in a run

    def memo(self, key: Any, fn: Callable[[], T]) -> T:
        """Compute ``fn()`` once per run; a failure is remembered and re-raised to every caller."""
        with self._guard:
            if key in self._memo:
                return self._unwrap(self._memo[key])
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._memo:
                    return self._unwrap(self._memo[key])
            try:
                value: Any = fn()
            except Exception as e:  # remembered: a denied call is not retried by every check
                value = _Failed(e)
            with self._guard:
                self._memo[key] = value
            return self._unwrap(value)

    @staticmethod
    def _unwrap(value: Any) -> Any:
        if isinstance(value, _Failed):
            raise value.exc
        return value

    # --- SSM -------------------------------------------------------------------------------
    def ssm_parameters(self) -> dict[str, dict[str, Any]]:
        """Every parameter under ``[ssm] path`` (recursive, decrypted), keyed by its full name."""

        def fetch() -> dict[str, dict[str, Any]]:
            ssm = self.aws.client("ssm")
            out: dict[str, dict[str, Any]] = {}
            for page in ssm.get_paginator("get_parameters_by_path").paginate(
                Path=self.config.ssm.path, Recursive=True, WithDecryption=True
            ):
                for p in page.get("Parameters", []):
                    out[p["Name"]] = p
                    if p.get("Type") == "SecureString" or self.redactor.is_secret_key(p["Name"].rsplit("/", 1)[-1]):
                        self.redactor.add_secret(p.get("Value"))
            return out

        return self.memo("ssm.parameters", fetch)

    def ssm_values(self) -> dict[str, str]:
        """Parameter basename (e.g. ``DB_HOST``) -> value."""
        base = self.config.ssm.path
        out: dict[str, str] = {}
        for name, p in self.ssm_parameters().items():
            key = name[len(base):] if name.startswith(base) else name.rsplit("/", 1)[-1]
            out[key] = p.get("Value", "")
        return out

    # --- ECS -------------------------------------------------------------------------------
    def services(self) -> dict[str, dict[str, Any] | None]:
        """Configured service name -> describe_services entry (None when ECS says it is missing)."""

        def fetch() -> dict[str, dict[str, Any] | None]:
            ecs = self.aws.client("ecs")
            names = [q.service for q in self.config.queues.values()]
            out: dict[str, dict[str, Any] | None] = {n: None for n in names}
            for i in range(0, len(names), 10):
                resp = ecs.describe_services(cluster=self.config.ecs.cluster, services=names[i:i + 10])
                for s in resp.get("services", []):
                    if s.get("status") != "INACTIVE":
                        out[s["serviceName"]] = s
            return out

        return self.memo("ecs.services", fetch)

    def task_definition(self, arn: str) -> dict[str, Any]:
        def fetch() -> dict[str, Any]:
            return dict(self.aws.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"])

        return self.memo(("ecs.taskdef", arn), fetch)

    def service_task_definition(self, service: str) -> dict[str, Any] | None:
        svc = self.services().get(service)
        if not svc or not svc.get("taskDefinition"):
            return None
        return self.task_definition(svc["taskDefinition"])

    def tasks(self, service: str, desired_status: str = "RUNNING") -> list[dict[str, Any]]:
        """Tasks of ``service`` (by ``group == service:<name>``); STOPPED ones within the window."""

        def fetch() -> list[dict[str, Any]]:
            try:
                if service in (known := self.services()) and known[service] is None:
                    return []  # real ECS rejects list_tasks(serviceName=...) for a missing service
            except Exception:
                pass  # describe_services denied: list_tasks may still be allowed
            ecs = self.aws.client("ecs")
            cluster = self.config.ecs.cluster
            arns: list[str] = []
            for page in ecs.get_paginator("list_tasks").paginate(
                cluster=cluster, serviceName=service, desiredStatus=desired_status
            ):
                arns.extend(page.get("taskArns", []))
            tasks: list[dict[str, Any]] = []
            for i in range(0, len(arns), 100):
                resp = ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100])
                tasks.extend(resp.get("tasks", []))
            group = f"service:{service}"
            tasks = [t for t in tasks if t.get("group") == group]
            if desired_status == "STOPPED":
                since = self.now - timedelta(minutes=self.config.run.window_minutes)
                tasks = [t for t in tasks if to_datetime(t.get("stoppedAt") or t.get("createdAt")) >= since]
            else:
                tasks = [t for t in tasks if t.get("lastStatus") != "STOPPED"]
            return tasks

        return self.memo(("ecs.tasks", service, desired_status), fetch)

    def deployment_started(self, service: str) -> datetime | None:
        """When the service's current (PRIMARY) deployment was created; None when ECS does not say."""
        svc = self.services().get(service) or {}
        primary = next((d for d in svc.get("deployments") or [] if d.get("status") == "PRIMARY"), None)
        return parse_datetime(primary.get("createdAt")) if primary else None

    def judged_since(self, service: str) -> datetime:
        """Where the judgement of ``service``'s stopped tasks and events starts: the window's start, or the current
        deployment's creation when that is later — what happened before it belongs to a deployment already
        replaced (a resolved incident), not to the one running now."""
        since = self.now - timedelta(minutes=self.config.run.window_minutes)
        started = self.deployment_started(service)
        return max(since, started) if started is not None else since

    def stopped_tasks(self, service: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The service's tasks stopped in the window, split into (current, history): history stopped before
        :meth:`judged_since`, under a deployment already replaced."""
        since = self.judged_since(service)
        stopped = self.tasks(service, "STOPPED")
        current = [t for t in stopped if to_datetime(t.get("stoppedAt") or t.get("createdAt")) >= since]
        return current, [t for t in stopped if t not in current]

    def container_name(self, taskdef: dict[str, Any]) -> str | None:
        """``[ecs] container``, else the first essential container of the task definition."""
        if self.config.ecs.container:
            return self.config.ecs.container
        for c in taskdef.get("containerDefinitions", []):
            if c.get("essential", True):
                return str(c["name"])
        return None

    # --- targets ---------------------------------------------------------------------------
    def _ssm_values_or_empty(self) -> dict[str, str]:
        try:
            return self.ssm_values()
        except Exception:
            return {}

    def redis_target(self) -> RedisTarget:
        cfg = self.config.redis
        values = self._ssm_values_or_empty()
        from_config = cfg.host is not None
        password = cfg.password if cfg.password is not None else values.get("REDIS_PASSWORD") or None
        if password in ("null", ""):
            password = None
        self.redactor.add_secret(password)
        return RedisTarget(
            host=cfg.host or values.get("REDIS_HOST"),
            port=cfg.port or to_int(values.get("REDIS_PORT"), 6379),
            password=password,
            db=cfg.db if cfg.db is not None else to_int(values.get("REDIS_DB"), 0),
            prefix=cfg.prefix if cfg.prefix is not None else laravel_redis_prefix(values),
            tls=cfg.tls or values.get("REDIS_SCHEME", "").lower() == "tls",
            source="config" if from_config else "ssm",
        )

    def db_target(self) -> DbTarget:
        cfg = self.config.database
        values = self._ssm_values_or_empty()
        password = cfg.password if cfg.password is not None else values.get("DB_PASSWORD")
        self.redactor.add_secret(password)
        return DbTarget(
            host=cfg.host or values.get("DB_HOST"),
            port=cfg.port or to_int(values.get("DB_PORT"), 3306),
            database=cfg.database or values.get("DB_DATABASE"),
            username=cfg.username or values.get("DB_USERNAME"),
            password=password,
            source="config" if cfg.host else "ssm",
        )
