"""Helpers shared by the network-check tests (sg.ingress, dns.resolve, s3.access, net.egress)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from doctor.aws import AwsSession
from doctor.config import Config
from doctor.engine import Engine
from doctor.model import CheckResult
from doctor.registry import get_check

from support.ecs_helpers import fast_session


def run_check(check_id: str, deny: dict[str, list[str]] | None = None, **cfg: Any) -> CheckResult:
    """Run one check with the in-process moto world; ``deny`` = {service: [Operation, ...]} -> AccessDenied."""
    config = Config(aws={"region": "eu-west-1"}, **cfg)
    aws = AwsSession("eu-west-1", transport=config.exec.transport)
    engine = Engine(config, [get_check(check_id)], aws=aws)
    for service, ops in (deny or {}).items():
        client = engine.aws.client(service)
        code = "UnauthorizedOperation" if service == "ec2" else "AccessDenied"
        for op in ops:
            def refuse(model: Any, _op: str = op, _code: str = code, **_: Any) -> None:
                raise ClientError({"Error": {"Code": _code,
                                             "Message": "You are not authorized to perform this operation."}}, _op)
            client.meta.events.register(f"before-call.{client.meta.service_model.service_name}.{op}", refuse)
    result = asyncio.run(engine.run()).check(check_id)
    assert result is not None
    return result


def signals(result: CheckResult) -> set[str]:
    return {s for f in result.findings for s in f.signals}


@pytest.fixture
def moto_session() -> Iterator[Any]:
    """Overrides conftest's moto_session in the network-check test modules: same moto in-process world
    (tasks pinned RUNNING), with a shared-loader session so building the world takes a fraction of the time."""
    from moto import mock_aws

    from doctor.sim.world import pin_ecs_task_status

    with mock_aws():
        pin_ecs_task_status()
        yield fast_session()
