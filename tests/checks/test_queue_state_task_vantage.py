"""queue.state reads the counts through the in-task probe when the doctor's host cannot reach Redis."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from doctor.model import CheckStatus

from support.probe import laravel_root, run_checks, world_config

PREFIX = "propertyfeedtemplate_database_"


@pytest.fixture
def live(moto_session: Any, redis_clean: Any, dns_server: Any, tmp_path: Path, refused_port: int) -> dict[str, Any]:
    from doctor.sim.world import WorldSpec, build_world

    w = build_world(moto_session, WorldSpec(redis_port=redis_clean.port))
    config = world_config(w, dns_server, laravel_root(tmp_path))
    return {"config": config, "redis": redis_clean.client(), "refused": refused_port}


def test_counts_come_from_the_tasks_when_the_host_cannot_reach_redis(live: dict[str, Any]) -> None:
    r = live["redis"]
    now = time.time()
    r.rpush(f"{PREFIX}queues:bulk", "j1", "j2")
    r.zadd(f"{PREFIX}queues:bulk:reserved", {"j0": now - 3600})
    # the doctor's own view of Redis is broken (a port nothing listens on); the workers' env is right
    config = live["config"].model_copy(update={"redis": live["config"].redis.model_copy(update={"port": live["refused"]})})
    report = run_checks(config, ["queue.state"])
    qs = report.check("queue.state")
    assert qs is not None
    depth = {f.evidence["queue"]: f for f in qs.findings if f.uid.startswith("queue.state:depth:")}
    assert set(depth) == {"sync", "image", "bulk", "default"}, qs.summary
    bulk = depth["bulk"].evidence
    assert bulk["vantage"] == "task:propertyfeedtemplate-bulk" and (bulk["ready"], bulk["reserved"]) == (2, 1)
    assert bulk["expired_reservations"] == 1
    stale = [f for f in qs.findings if "queue.stale_reservations" in f.signals]
    assert stale and stale[0].evidence["vantage"] == "task:propertyfeedtemplate-bulk"
    oldest = float(re.search(r"oldest ([0-9.]+)s", stale[0].title).group(1))  # type: ignore[union-attr]
    assert 3590 <= oldest <= 3610, stale[0].title
    assert qs.status == CheckStatus.fail
    vantage = next(f for f in qs.findings if f.uid == "queue.state:vantage:redis")
    assert "read inside the worker tasks" in vantage.title


def test_without_a_probe_the_counts_are_unknown(live: dict[str, Any]) -> None:
    config = live["config"].model_copy(update={
        "redis": live["config"].redis.model_copy(update={"port": live["refused"]}),
        "exec": live["config"].exec.model_copy(update={"transport": "off"})})
    qs = run_checks(config, ["queue.state"]).check("queue.state")
    assert qs is not None and qs.status == CheckStatus.unknown
    assert not [f for f in qs.findings if f.uid.startswith("queue.state:depth:")]
