"""Test helpers for the ECS / SSM checks: run checks in-process, bend moto's task objects.

moto gives stopped tasks no stopCode and always exit code 0: these helpers set them on moto's
backend objects (the test world is bent, never the product).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from doctor.aws import AwsSession
from doctor.config import Config
from doctor.engine import Engine, EngineOptions
from doctor.model import CheckResult, Report
from doctor.registry import all_checks

ACCOUNT = "123456789012"
REGION = "eu-west-1"


_LOADER: Any = None


def fast_session() -> Any:
    """A boto3 Session sharing one botocore data loader with every other one made here.

    Each new botocore session re-parses the service JSON models (seconds for EC2); the loader caches
    them per instance, so sharing it keeps a test's world build and its check run fast.
    """
    global _LOADER
    import boto3
    import botocore.session

    bs = botocore.session.get_session()
    if _LOADER is None:
        _LOADER = bs.get_component("data_loader")
    else:
        bs.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=bs, region_name=REGION)


@pytest.fixture
def moto_session() -> Iterator[Any]:
    """conftest's moto_session (in-process moto, tasks pinned RUNNING) with a shared-loader session;
    import it into a test module to override the conftest fixture there."""
    from moto import mock_aws

    from doctor.sim.world import pin_ecs_task_status

    with mock_aws():
        pin_ecs_task_status()
        yield fast_session()


def run_checks(*ids: str, **config: Any) -> Report:
    cfg = Config.model_validate({"aws": {"region": REGION}, **config})
    aws = AwsSession(REGION, transport=cfg.exec.transport)
    return asyncio.run(Engine(cfg, all_checks(), EngineOptions(only=list(ids), diagnose=False), aws=aws).run())


def run_check(check_id: str, **config: Any) -> CheckResult:
    result = run_checks(check_id, **config).check(check_id)
    assert result is not None
    return result


def signals(result: CheckResult) -> set[str]:
    return {s for f in result.findings for s in f.signals}


def kinds(result: CheckResult) -> set[str]:
    return {f.uid.split(":")[1] for f in result.findings}


def ecs_backend() -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[ACCOUNT][REGION]


def backend_task(cluster: str, task_arn: str) -> Any:
    return next(t for t in ecs_backend().tasks[cluster].values() if t.task_arn == task_arn)


def backend_service(cluster: str, service: str) -> Any:
    return next(s for s in ecs_backend().services.values() if s.name == service and s.cluster_name == cluster)


def run_service_task(session: Any, world: Any, queue: str) -> str:
    """Start one more task of the queue's service (as the ECS scheduler would); returns its ARN."""
    service = world.services[queue]
    ecs = session.client("ecs", region_name=REGION)
    netcfg = {"awsvpcConfiguration": {"subnets": list(world.worker_subnets), "securityGroups": [world.worker_sg]}}
    arn = ecs.run_task(cluster=world.spec.cluster, taskDefinition=world.task_definitions[service], count=1,
                       launchType="FARGATE", group=f"service:{service}", networkConfiguration=netcfg,
                       startedBy="ecs-svc/1234567890")["tasks"][0]["taskArn"]
    return str(arn)


def stop_task(session: Any, world: Any, task_arn: str, *, reason: str = "Essential container in task exited",
              stop_code: str | None = "EssentialContainerExited", exit_code: int | None = 1,
              container_reason: str | None = None, minutes_ago: float = 1) -> None:
    """Stop a task through the API, then give it what real ECS reports (stopCode, exit code, times)."""
    session.client("ecs", region_name=REGION).stop_task(cluster=world.spec.cluster, task=task_arn, reason=reason)
    t = backend_task(world.spec.cluster, task_arn)
    when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    t.stopped_at = when
    t.started_at = when - timedelta(seconds=20)
    if stop_code:
        t.stop_code = stop_code
    for c in t.containers:
        c.last_status = "STOPPED"
        if exit_code is not None:
            c.exitCode = exit_code
        if container_reason:
            c.reason = container_reason


def crash(session: Any, world: Any, queue: str, n: int = 1, **kw: Any) -> list[str]:
    """Start and stop ``n`` tasks of a queue's service (a crash loop); returns their ARNs."""
    arns = []
    for _ in range(n):
        arn = run_service_task(session, world, queue)
        stop_task(session, world, arn, **kw)
        arns.append(arn)
    return arns


def deny(monkeypatch: pytest.MonkeyPatch, service: str, operation: str) -> None:
    """Make the doctor's own clients get AccessDenied for one operation (IAM enforcement in-process)."""
    from doctor.aws import AwsSession, iam_action

    original = AwsSession.client

    def client(self: AwsSession, name: str) -> Any:
        c = original(self, name)
        if name == service:
            def refuse(**_: Any) -> None:
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "User: arn:aws:iam::1:user/x "
                                   f"is not authorized to perform: {iam_action(service, operation)}"}}, operation)
            c.meta.events.register(f"before-call.{service}.{operation}", refuse, unique_id=f"deny-{operation}")
        return c

    monkeypatch.setattr(AwsSession, "client", client)
