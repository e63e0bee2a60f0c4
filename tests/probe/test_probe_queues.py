"""The in-task probe reads queue counts under the worker's own prefix/DB (real php-cli + redis-server)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from doctor.probe import ProbeSpec

from support.probe import laravel_root, run_probe


def test_probe_reads_laravel_queue_counts_under_the_worker_prefix(redis_clean: Any, tmp_path: Path) -> None:
    r = redis_clean.client(3)
    now = time.time()
    r.rpush("ame_workers_queues:image", "a", "b", "c")
    r.zadd("ame_workers_queues:image:reserved", {"x": now - 600, "y": now + 60})
    r.zadd("ame_workers_queues:image:delayed", {"d1": now - 900, "d2": now + 900, "d3": now + 901})
    redis_clean.client(0).rpush("propertyfeedtemplate_database_queues:image", "elsewhere")
    spec = ProbeSpec(timeout=3, app_root=str(laravel_root(tmp_path)), queues=["image", "bulk"])
    env = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_clean.port), "REDIS_PREFIX": "ame_workers_",
           "REDIS_DB": "3", "APP_NAME": "propertyfeedtemplate"}
    res = run_probe(spec, env)
    assert res.ok and res.queues is not None, getattr(res, "raw_output", "")
    assert res.queues["prefix"] == "ame_workers_" and res.queues["db"] == 3
    image = res.queues["queues"]["image"]
    assert {k: image[k] for k in ("ready", "reserved", "delayed", "expired_reserved", "overdue_delayed")} == {
        "ready": 3, "reserved": 2, "delayed": 3, "expired_reserved": 1, "overdue_delayed": 1}
    assert abs(image["oldest_reserved_score"] - (now - 600)) < 1 and abs(image["oldest_delayed_score"] - (now - 900)) < 1
    assert res.queues["queues"]["bulk"] == {"ready": 0, "reserved": 0, "delayed": 0, "expired_reserved": 0,
                                            "overdue_delayed": 0, "oldest_reserved_score": None,
                                            "oldest_delayed_score": None}


def test_probe_reads_no_counts_when_not_asked(redis_clean: Any, tmp_path: Path) -> None:
    spec = ProbeSpec(timeout=3, app_root=str(laravel_root(tmp_path)))
    res = run_probe(spec, {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_clean.port)})
    assert res.ok and res.queues is None
