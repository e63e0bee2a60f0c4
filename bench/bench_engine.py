"""Engine benchmark: N synthetic checks with injected I/O latency, concurrency 1 vs the default, and the
start-up time of `ame-doctor --help` against a bare interpreter.

    python bench/bench_engine.py                 # 24 checks x 0.1 s, 7 start-up runs
    python bench/bench_engine.py --checks 48 --latency 0.05 --runs 11

Numbers, not assertions: tests never time things; this script is where timing lives.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doctor.checkapi import CheckContext, CheckMeta, FindingKind  # noqa: E402
from doctor.config import Config, RunConfig  # noqa: E402
from doctor.engine import Engine, EngineOptions  # noqa: E402
from doctor.model import Severity  # noqa: E402
from doctor.registry import RegisteredCheck  # noqa: E402

KINDS = {"ok": FindingKind(severity=Severity.info, title="fine", why="-", fix="-")}


def synthetic_checks(n: int, latency: float, calls: int) -> list[RegisteredCheck]:
    """``n`` checks, each making ``calls`` blocking 'SDK calls' of ``latency`` seconds, a few with dependencies."""

    def make(i: int) -> Any:
        def run(ctx: CheckContext) -> Any:
            for _ in range(calls):
                time.sleep(latency)  # a blocking SDK round trip
            yield ctx.finding("ok", f"r{i}")
        return run

    out = []
    for i in range(n):
        deps = (f"bench.c{i - 1}",) if i % 6 == 5 else ()  # a dependency chain every 6th check
        meta = CheckMeta(id=f"bench.c{i}", title=f"synthetic {i}", order=i + 1, proves="-", why="-",
                         remediation="-", depends_on=deps, kinds=KINDS)
        out.append(RegisteredCheck(meta, make(i), origin=f"bench.c{i}"))
    return out


def time_engine(checks: list[RegisteredCheck], concurrency: int) -> float:
    cfg = Config(aws={"region": "eu-west-1"}, run={"concurrency": concurrency, "timeout": 600})
    engine = Engine(cfg, checks, EngineOptions(diagnose=False))
    start = time.perf_counter()
    report = asyncio.run(engine.run())
    elapsed = time.perf_counter() - start
    assert report.summary.passed == len(checks), report.summary
    return elapsed


def median_run(cmd: list[str], runs: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checks", type=int, default=24)
    p.add_argument("--latency", type=float, default=0.1, help="seconds per injected blocking call")
    p.add_argument("--calls", type=int, default=2, help="blocking calls per check")
    p.add_argument("--runs", type=int, default=7, help="start-up measurements (median)")
    args = p.parse_args()

    default = RunConfig().concurrency
    checks = synthetic_checks(args.checks, args.latency, args.calls)
    ideal = args.checks * args.calls * args.latency
    serial = time_engine(checks, 1)
    parallel = time_engine(checks, default)
    print(f"engine: {args.checks} checks x {args.calls} calls x {args.latency * 1000:.0f} ms "
          f"(serial I/O {ideal:.2f} s)")
    print(f"  concurrency 1: {serial:.2f} s")
    print(f"  concurrency {default} (default): {parallel:.2f} s")
    print(f"  speed-up: {serial / parallel:.1f}x")

    bare = median_run([sys.executable, "-c", "pass"], args.runs)
    help_ = median_run([sys.executable, "-m", "doctor", "--help"], args.runs)
    version = median_run([sys.executable, "-m", "doctor", "version"], args.runs)
    print(f"start-up (median of {args.runs}):")
    print(f"  python -c pass:          {bare * 1000:.0f} ms")
    print(f"  ame-doctor --help:       {help_ * 1000:.0f} ms  (+{(help_ - bare) * 1000:.0f} ms)")
    print(f"  ame-doctor version:      {version * 1000:.0f} ms  (+{(version - bare) * 1000:.0f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
