"""Probe benchmark: command sizes against the API limits, one probe's wall time under php and plain sh,
and reach.redis + reach.aurora wall time when every target black-holes (3 services + host, concurrently).

    python bench/bench_probe.py

Numbers, not assertions (tests never time things).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from doctor.probe import ProbeSpec, payload  # noqa: E402
from doctor.sim.servers import Blackhole, RedisServer  # noqa: E402


def main() -> None:
    spec = ProbeSpec(timeout=3, app_root="/var/www/html", root_source="workdir", run_as="www-data",
                     queues=["propertyfeedtemplate-sync", "propertyfeedtemplate-image", "propertyfeedtemplate-bulk",
                             "default"])
    overrides = {"containerOverrides": [{"name": "app", "command": spec.task_command()}]}
    print(f"payload, full (gzip+base64):  {len(payload('full'))} chars (local transport)")
    print(f"payload, short (gzip+base64): {len(payload('short'))} chars (without the no-php network probe)")
    print(f"ExecuteCommand command:       {len(spec.exec_command())} chars (budget 7600)")
    print(f"RunTask overrides JSON:       {len(json.dumps(overrides, separators=(',', ':')))} chars (limit 8192)")

    from support.probe import path_without_php

    redis = RedisServer().start()
    try:
        env = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis.port)}
        for label, path in (("php", os.environ["PATH"]), ("sh (no php)", path_without_php())):
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                subprocess.run(["sh", "-c", ProbeSpec(timeout=1, run_as="self").shell_script()],
                               env={"PATH": path, **env}, capture_output=True, check=True)
                runs.append(time.perf_counter() - t0)
            print(f"one probe, {label}: median {sorted(runs)[2] * 1000:.0f} ms")
    finally:
        redis.stop()

    from moto import mock_aws

    from doctor.config import Config
    from doctor.engine import Engine, EngineOptions
    from doctor.registry import all_checks

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    b = Blackhole()
    try:
        with mock_aws():
            for i, exec_timeout in enumerate((6.0, 6.0, 30.0)):  # the first run pays moto's lazy imports
                cfg = Config(aws={"region": "eu-west-1"}, redis={"host": "127.0.0.1", "port": b.port},
                             database={"host": "127.0.0.1", "port": b.port, "username": "ame"},
                             exec={"transport": "local", "timeout": exec_timeout, "app_root": tempfile.mkdtemp()})
                t0 = time.perf_counter()
                report = asyncio.run(Engine(cfg, all_checks(), EngineOptions(
                    only=["reach.redis", "reach.aurora"], diagnose=False)).run())
                wall = time.perf_counter() - t0
                per = {c.id: f"{c.status.value} in {c.duration_ms} ms" for c in report.checks}
                if i == 0:
                    continue
                print(f"all targets black-holed, [exec] timeout={exec_timeout:g}s (connect {max(1, min(5, exec_timeout / 6)):g}s): "
                      f"run {wall:.1f}s; {per}")
    finally:
        b.close()


if __name__ == "__main__":
    main()
