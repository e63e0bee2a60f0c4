"""A dead endpoint is dead for the whole run: queue.state and the reach checks wait on a silent Redis or MySQL
once between them (the run's Facts.dead_endpoints), and a remembered timeout yields exactly the findings a
fresh one does — only the time it was measured differs."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest

from doctor.aws import AwsSession
from doctor.config import Config
from doctor.engine import Engine, EngineOptions
from doctor.model import CheckResult, CheckStatus
from doctor.registry import all_checks

from support.ecs_helpers import REGION
from support.netfaults import SilentServer


@pytest.fixture
def silent() -> Iterator[tuple[SilentServer, SilentServer]]:
    """A Redis and a MySQL endpoint that accept connections and never answer."""
    with SilentServer() as redis, SilentServer() as mysql:
        yield redis, mysql


def _run(silent: tuple[SilentServer, SilentServer], *ids: str) -> dict[str, CheckResult]:
    """``ids`` one after another (concurrency 1, in that order), no in-task probe, half-second timeouts."""
    redis, mysql = silent
    cfg = Config.model_validate({
        "aws": {"region": REGION}, "exec": {"transport": "off"},
        "redis": {"host": "127.0.0.1", "port": redis.port},
        "database": {"host": "127.0.0.1", "port": mysql.port, "username": "ame", "database": "ame"},
        "run": {"concurrency": 1, "connect_timeout": 0.5, "read_timeout": 0.5}})
    engine = Engine(cfg, all_checks(), EngineOptions(only=list(ids), priority=list(ids), diagnose=False),
                    aws=AwsSession(REGION, transport="off"))
    report = asyncio.run(engine.run())
    return {c.id: c for c in report.checks}


def _comparable(result: CheckResult) -> Any:
    """Everything a reader sees of a check, the measurement times aside."""
    def scrub(text: str) -> str:
        return re.sub(r"\d\d:\d\d:\d\d", "HH:MM:SS", text)

    return (result.status, scrub(result.summary), result.unlock,
            [(f.uid, f.severity, f.signals, f.title, f.detail,
              {k: v for k, v in f.evidence.items() if k != "measured_at"}) for f in result.findings])


def test_queue_state_after_the_reach_checks_reads_their_timeouts(moto_session: Any,
                                                                  silent: tuple[SilentServer, SilentServer]) -> None:
    redis, mysql = silent
    fresh = _run(silent, "queue.state")["queue.state"]
    assert (redis.accepted, mysql.accepted) == (1, 1)  # its PING and its failed_jobs login each waited
    after = _run(silent, "reach.redis", "reach.aurora", "queue.state")
    assert (redis.accepted, mysql.accepted) == (2, 2)  # the reach checks measured; queue.state did not connect
    remembered = after["queue.state"]
    assert _comparable(remembered) == _comparable(fresh)
    assert remembered.status == CheckStatus.unknown
    vantage = next(f for f in remembered.findings if f.uid == "queue.state:vantage:redis")
    assert vantage.evidence["timed_out"] == "answer" and vantage.evidence["measured_at"]
    assert "did not answer within 0.5s" in vantage.evidence["error"]
    assert "failed_jobs not read (vantage host)" in remembered.summary and "did not answer" in remembered.summary
    host = next(f for f in after["reach.redis"].findings if f.evidence.get("vantage") == "host")
    assert host.evidence["measured_at"] == vantage.evidence["measured_at"]  # one measurement, both checks


def test_the_reach_checks_after_queue_state_read_its_timeouts(moto_session: Any,
                                                              silent: tuple[SilentServer, SilentServer]) -> None:
    redis, mysql = silent
    fresh = _run(silent, "reach.redis", "reach.aurora")
    assert (redis.accepted, mysql.accepted) == (1, 1)
    after = _run(silent, "queue.state", "reach.redis", "reach.aurora")
    assert (redis.accepted, mysql.accepted) == (2, 2)
    for check_id in ("reach.redis", "reach.aurora"):
        assert _comparable(after[check_id]) == _comparable(fresh[check_id]), check_id
        host = next(f for f in after[check_id].findings if f.evidence.get("vantage") == "host")
        assert host.signals == [f"{check_id}_timeout"] and host.evidence["timed_out"] == "answer"
