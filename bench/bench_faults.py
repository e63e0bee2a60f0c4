"""Time to diagnosis when dependencies are black-holed: the whole ``ame-doctor run`` against the simulated
production (doctor.sim: moto, real redis-server and MariaDB, the DNS responder, the in-task probe through the
``local`` transport) in five worlds, and a narrow ``run --only exec.ready``.

    python bench/bench_faults.py                      # every world at both budgets (3 runs each), then the narrow run
    python bench/bench_faults.py --worlds healthy,both-dropped --budgets sim --runs 5

Each world's run is a real ``ame-doctor run`` process (moto's HTTP server in this process stands in for AWS
through AWS_ENDPOINT_URL). Per world it prints the process wall time, the run's own duration (the report's
``duration_ms``: engine start to report), the critical path — the slowest single probe's wait in that world,
each probe timed alone here (the host's Redis and MySQL probes, one service's in-task probe) — their ratio and
difference (the overhead: process start, imports, the AWS reads before the probes can launch, the end of the
run), then the peak RSS of the run. It does so at each ``--budgets`` connect timeout: the simulated platform's
short one (1.67 s, what the tests use) and the product's default (5 s), since the overhead is about the same
at both and the ratio is not. Goals (issue 15): every faulted world within 1.5x its critical path and within
2x the healthy run plus one connect timeout; ``run --only exec.ready`` under 0.5 s (printed beside its floor on
this machine: a process that only imports pydantic and botocore and makes the four clients the run needs);
peak RSS under 150 MB.

Numbers, not assertions: tests never time things; this script is where timing lives.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doctor.sim import scenarios as sc  # noqa: E402
from doctor.sim.platform import SimPlatform  # noqa: E402
from doctor.sim.servers import MariaDB, RedisServer, free_port  # noqa: E402

PYCACHE = os.path.join(tempfile.gettempdir(), "ame-bench-faults-pycache")


class Silent:
    """A listener that accepts and reads but never answers: a Redis stuck mid-failover."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, name=f"silent-{host}:{port}", daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._open.append(conn)  # held open, never written to

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for s in self._open:
            s.close()


def _drop_redis(p: SimPlatform) -> None:
    sc.healthy(p)
    p.drop_path(p.w.redis_host, "127.0.0.3", p.redis.port)


def _drop_aurora(p: SimPlatform) -> None:
    sc.healthy(p)
    for endpoint in p.w.db_instance_endpoints.values():
        p.drop_path(endpoint, "127.0.0.2", p.db.port)


def _drop_both(p: SimPlatform) -> None:
    _drop_redis(p)
    for endpoint in p.w.db_instance_endpoints.values():
        p.drop_path(endpoint, "127.0.0.2", p.db.port)


def _silent_redis(p: SimPlatform) -> None:
    sc.healthy(p)
    silent = Silent("127.0.0.6", p.redis.port)
    p._closers.append(silent.close)
    p.dns.set(p.w.redis_host, "A", "127.0.0.6")


WORLDS: dict[str, Callable[[SimPlatform], None]] = {
    "healthy": sc.healthy,
    "redis-dropped": _drop_redis,
    "aurora-dropped": _drop_aurora,
    "both-dropped": _drop_both,
    "redis-silent": _silent_redis,
}


def _platform(world: str, redis: RedisServer, db: MariaDB, workdir: Path,
              connect_timeout: float | None = None) -> SimPlatform:
    """The world on the shared servers; ``connect_timeout``: the probes' budget ([exec] connect_timeout, which
    the host's probes follow too), else the simulated platform's ([exec] timeout 10 -> 10/6 s)."""
    for n in range(16):
        redis.client(n).flushdb()
    db.execute_root([f"DELETE FROM `{db.database}`.failed_jobs"])
    platform = SimPlatform(workdir=workdir)
    platform.redis, platform.db = redis, db
    if connect_timeout is not None:
        base = platform.config

        def budgeted() -> dict[str, Any]:
            config = base()
            config["exec"] = {**config["exec"], "connect_timeout": connect_timeout}
            return config

        platform.config = budgeted  # type: ignore[method-assign]
    platform.start()
    try:
        WORLDS[world](platform)
    except BaseException:
        platform.stop()
        raise
    return platform


def critical_path(platform: SimPlatform, repeat: int = 1) -> dict[str, float]:
    """Each single probe of the run timed alone (seconds, the median of ``repeat`` timings): the host's Redis
    and MySQL probes, and every service's in-task probe (local transport)."""
    from doctor.aws import AwsSession
    from doctor.config import Config
    from doctor.facts import Facts
    from doctor.net.hostprobe import mysql_check, redis_check
    from doctor.probe.runner import probe_spec
    from doctor.probe.transports import get_transport
    from doctor.redact import Redactor

    config = Config.model_validate(platform.config())
    waits: dict[str, float] = {}
    connect, read = config.host_timeouts()
    ns = config.dns.nameservers
    facts = Facts(config, AwsSession(config.aws.region, transport="local"), Redactor(config.ssm.secret_keys))
    probes: dict[str, Callable[[], Any]] = {
        "host redis": lambda: redis_check(facts.redis_target(), ns, connect, read_timeout=read),
        "host mysql": lambda: mysql_check(facts.db_target(), ns, connect, read_timeout=read)}
    for svc in [q.service for q in config.queues.values()]:
        probes[f"task {svc.rsplit('-', 1)[-1]}"] = functools.partial(
            lambda s: get_transport("local").run_all(facts, s, probe_spec(facts, "local")), svc)
    for name, probe in probes.items():
        timings = []
        for _ in range(repeat):
            start = time.perf_counter()
            probe()
            timings.append(time.perf_counter() - start)
        waits[name] = statistics.median(timings)
    return waits


def _connect_timeout(config: Any) -> float:
    """The connect timeout of the run's host probes ([run] connect_timeout, else the in-task probe's)."""
    return float(config.host_timeouts()[0])


# Runs the doctor and, as it leaves (the CLI ends with os._exit once its output is flushed, or through the
# interpreter's teardown), writes its own peak RSS (VmHWM: this process image only, not the bench process it was forked from, which ru_maxrss would count) to
# the file named by $AME_BENCH_RSS.
LAUNCHER = """
import atexit, os, runpy, sys
leave = os._exit
def _peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(os.environ["AME_BENCH_RSS"], "w").write(line.split()[1])
def _leaving(code):
    _peak()
    leave(code)
os._exit = _leaving
atexit.register(_peak)  # a CLI that ends through the interpreter's teardown instead
sys.argv = ["ame-doctor", *sys.argv[1:]]
runpy.run_module("doctor", run_name="__main__")
"""


def run_doctor(platform: SimPlatform, endpoint: str, extra: list[str]) -> tuple[float, dict[str, Any], int]:
    """One ``ame-doctor run`` process: (wall seconds, the JSON report, peak RSS in kB)."""
    config = platform.write_config()
    rss_file = platform.workdir / "rss"
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": PYCACHE,
           "AME_BENCH_RSS": str(rss_file)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measured as installed: with bytecode (kept out of the tree)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, "run", "--config", str(config), "--format", "json",
                           *[a for c in platform.skip for a in ("--skip", c)], *extra],
                          capture_output=True, env=env, check=False)
    wall = time.perf_counter() - start
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise SystemExit(f"the run printed no report (exit {proc.returncode}):\n"
                         f"{proc.stderr.decode(errors='replace')[-3000:]}") from None
    return wall, report, int(rss_file.read_text() or 0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worlds", default=",".join(WORLDS), help=f"comma-separated, of {', '.join(WORLDS)}")
    p.add_argument("--runs", type=int, default=3, help="runs per world (the median is printed)")
    p.add_argument("--narrow-runs", type=int, default=5, help="runs of --only exec.ready (median)")
    p.add_argument("--budgets", default="sim,5",
                   help="the probes' connect timeouts to run the worlds with, comma-separated: 'sim' (the simulated "
                        "platform's [exec] timeout 10 -> 1.67 s, what the tests use) and/or seconds (5: the "
                        "product's default, [exec] timeout 30 / 6)")
    args = p.parse_args()
    worlds = [w.strip() for w in args.worlds.split(",") if w.strip()]
    unknown = [w for w in worlds if w not in WORLDS]
    if unknown:
        p.error(f"unknown world(s) {', '.join(unknown)}")
    try:
        budgets = [None if b.strip() == "sim" else float(b) for b in args.budgets.split(",") if b.strip()]
    except ValueError:
        p.error(f"--budgets {args.budgets!r}: 'sim' or seconds, comma-separated")

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").disabled = True  # moto's server logs every request and moto's gaps
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    redis = RedisServer().start()
    db = MariaDB()
    db.initialise()
    db.start()
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="ame-bench-faults-") as tmp:
            warm = _platform("healthy", redis, db, Path(tmp) / "warm-up")
            try:  # the first run writes the bytecode; not counted
                run_doctor(warm, endpoint, [])
            finally:
                warm.stop()
            for budget in budgets:
                for world in worlds:
                    workdir = Path(tmp) / f"{world}-{budget or 'sim'}"
                    platform = _platform(world, redis, db, workdir, budget)
                    try:
                        connect_timeout = _connect_timeout(_config(platform))
                        waits = critical_path(platform, args.runs)
                        runs = [run_doctor(platform, endpoint, []) for _ in range(args.runs)]
                    finally:
                        platform.stop()
                    wall = statistics.median(r[0] for r in runs)
                    report = runs[len(runs) // 2][1]
                    slowest = sorted(((c["duration_ms"] / 1000, c["id"]) for c in report["checks"]),
                                     reverse=True)[:3]
                    rows.append({"world": world, "wall": wall, "run": report["run"]["duration_ms"] / 1000,
                                 "critical": max(waits.values()), "critical_what": max(waits, key=waits.__getitem__),
                                 "rss_mb": max(r[2] for r in runs) / 1024, "slowest": slowest,
                                 "status": {c["id"]: c["status"] for c in report["checks"]},
                                 "connect_timeout": connect_timeout})
                    print(_line(rows[-1]), flush=True)
            narrow = _narrow(redis, db, Path(tmp) / "narrow", endpoint, args.narrow_runs)
            floor = _floor(args.narrow_runs)
    finally:
        db.stop()
        redis.stop()
        server.stop()
    _summary(rows, narrow, floor)
    return 0


# What any `run --only exec.ready` does before its first AWS call: the interpreter, pydantic and botocore
# imported, and the four clients the check and the engine's first call use (ECS, EC2, IAM, STS).
FLOOR = """
import botocore.session, pydantic
s = botocore.session.Session()
s.set_config_variable("region", "eu-west-1")
for service in ("ecs", "ec2", "iam", "sts"):
    s.create_client(service)
"""


def _floor(runs: int) -> float:
    """The narrow run's floor on this machine: a process doing only :data:`FLOOR` (median wall seconds)."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": PYCACHE}
    walls = []
    for _ in range(runs + 1):  # the first writes bytecode: not counted
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", FLOOR], env=env, check=True)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls[1:])


def _config(platform: SimPlatform) -> Any:
    from doctor.config import Config

    return Config.model_validate(platform.config())


def _narrow(redis: RedisServer, db: MariaDB, workdir: Path, endpoint: str, runs: int) -> float:
    platform = _platform("healthy", redis, db, workdir)
    try:
        walls = [run_doctor(platform, endpoint, ["--only", "exec.ready"])[0] for _ in range(runs)]
    finally:
        platform.stop()
    return statistics.median(walls)


def _line(r: dict[str, Any]) -> str:
    slow = ", ".join(f"{cid} {s:.1f}s" for s, cid in r["slowest"])
    return (f"{r['world']:<15} connect {r['connect_timeout']:4.2f}s  wall {r['wall']:5.2f}s  run {r['run']:5.2f}s  "
            f"critical path {r['critical']:5.2f}s ({r['critical_what']})  wall/critical "
            f"{r['wall'] / r['critical']:4.2f}  overhead {r['wall'] - r['critical']:4.2f}s  "
            f"peak RSS {r['rss_mb']:.0f} MB  slowest: {slow}")


def _summary(rows: list[dict[str, Any]], narrow: float, floor: float) -> None:
    print()
    for budget in dict.fromkeys(r["connect_timeout"] for r in rows):
        mine = [r for r in rows if r["connect_timeout"] == budget]
        healthy = next((r for r in mine if r["world"] == "healthy"), None)
        for r in mine:
            if r["world"] == "healthy":
                continue
            ratio = r["wall"] / r["critical"]
            goal = [f"wall/critical {ratio:.2f} (goal <= 1.5: {'met' if ratio <= 1.5 else 'missed'})"]
            if healthy is not None:
                bound = 2 * healthy["wall"] + r["connect_timeout"]
                goal.append(f"wall {r['wall']:.2f}s vs 2 x healthy + one connect timeout = {bound:.2f}s "
                            f"({'met' if r['wall'] <= bound else 'missed'})")
            print(f"connect {budget:4.2f}s {r['world']:<15} " + "; ".join(goal))
    print(f"run --only exec.ready: {narrow:.2f}s wall (median; goal < 0.5 s); its floor here (interpreter, pydantic "
          f"and botocore imported, the ECS/EC2/IAM/STS clients made, no call): {floor:.2f}s; narrow/floor "
          f"{narrow / floor:.2f}")
    print(f"peak RSS of a full run: {max(r['rss_mb'] for r in rows):.0f} MB (goal < 150 MB)")


if __name__ == "__main__":
    raise SystemExit(main())
