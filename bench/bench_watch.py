"""watch benchmark: the wall time of one soak sample, with the facts its checks share fetched concurrently ahead
of them (what `ame-doctor watch` does) against each check fetching them itself, on the demo's simulated production
(moto in-process, redis-server or fakeredis, the local probe) with every AWS call delayed by ``--latency`` seconds
to stand for a real API round trip.

    python bench/bench_watch.py                          # 0.1 s per AWS call, 7 samples each way
    python bench/bench_watch.py --latency 0.05 --samples 11 --no-controller

Numbers, not assertions: tests never time things; this script is where timing lives.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import botocore.client  # noqa: E402

from doctor.commands import watch as watch_cmd  # noqa: E402
from doctor.config import Config  # noqa: E402
from doctor.registry import all_checks  # noqa: E402
from doctor.runspec import RunSpec  # noqa: E402
from doctor.sim.scenarios import SCENARIOS, start  # noqa: E402


def delay_aws_calls(latency: float) -> list[bool]:
    """Every botocore API call sleeps ``latency`` first while the returned switch is on."""
    on = [False]
    call = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]

    def slow(self: Any, operation: str, params: Any) -> Any:
        if on[0]:
            time.sleep(latency)
        return call(self, operation, params)

    botocore.client.BaseClient._make_api_call = slow  # type: ignore[attr-defined]
    return on


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.1, help="seconds added to every AWS call (default 0.1)")
    ap.add_argument("--samples", type=int, default=7, help="samples each way (default 7)")
    ap.add_argument("--no-controller", action="store_true", help="without the burst/drain controller and Sentry")
    args = ap.parse_args()
    switch = delay_aws_calls(args.latency)
    platform = start(SCENARIOS["healthy"])
    try:
        data = platform.config()
        if args.no_controller:
            data.pop("scaler", None)
            data.pop("sentry", None)
        config = Config.model_validate(data)
        sampler, _ = watch_cmd.engine_sampler(RunSpec(config, tuple(all_checks()), argv=("bench",)))
        sampler()  # warm: clients, imports
        switch[0] = True
        prefetch: Any = watch_cmd.prefetch
        none: Any = lambda facts, cfg: contextlib.nullcontext(watch_cmd.Fetching())  # noqa: E731
        results: dict[str, list[float]] = {}
        for label, ahead in (("each check fetches its facts", False), ("shared facts fetched ahead", True)) * 2:
            watch_cmd.prefetch = prefetch if ahead else none
            for _ in range(args.samples):
                t = time.perf_counter()
                sampler()
                results.setdefault(label, []).append(time.perf_counter() - t)
        watch_cmd.prefetch = prefetch
    finally:
        switch[0] = False
        platform.stop()
    print(f"one watch sample, {args.latency:g} s per AWS call"
          f"{' (no controller)' if args.no_controller else ' (with the Lambda controller and Sentry)'}:")
    for label, times in results.items():
        print(f"  {label:<32} median {statistics.median(times):.2f} s  (min {min(times):.2f}, max {max(times):.2f}, "
              f"n={len(times)})")


if __name__ == "__main__":
    main()
