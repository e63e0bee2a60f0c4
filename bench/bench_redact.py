"""Benchmark: the redactor costs the same per MB on hostile input as on plain text, and a 50 KB .env value no
longer stalls a run.

Times ``Redactor.scrub`` (best of ``--rounds``) on 1 MB inputs — plain log lines and base64, then inputs built
against each pattern (runs of letters and of ``scheme://user:``, near-miss prefixes of a secret in every
encoding, base64 near-misses, parameter names without values) — with a run's worth of secrets registered
(special characters, an APP_KEY, weak ones), and prints ms/MB and the ratio to plain text measured in the same
run. ``--old`` also times the previous URL-credential pattern on growing runs of letters (quadratic).
``--cli`` builds the moto world and times ``ame-doctor run --only env.drift`` with a 50 KB .env value
(41-57 s before the linear patterns).

    python bench/bench_redact.py [--mb 1] [--rounds 5] [--old] [--cli]
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doctor.redact import Redactor  # noqa: E402

SECRETS = ["Pl4nt/ed+ssm@DB:pw%7e!&*c1e", "Pl4nted%41env/redis+pw@:!&*3344", "Pl4nted-mailgun-secret-8877",
           "base64:" + base64.b64encode(b"planted-app-key-0123456789abcdef").decode(), "wJalrXUtnFEMI/K7MDENG+bPx"]
WEAK = ["true", "prod", "1234"]
OLD_URL_CREDS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@", re.I)


def inputs(size: int) -> dict[str, str]:
    """name -> text of about ``size`` characters; the first two are the plain baselines."""
    rng = random.Random(7)
    s = SECRETS[0]
    log = "".join(f"[2026-05-01 12:00:{i % 60:02d}] local.ERROR: SQLSTATE[HY000] [2002] Connection timed out "
                  f"(Connection: mysql, SQL: select * from `feeds` where id = {i}) job {rng.randrange(10**6)}\n"
                  for i in range(size // 100 + 1))
    blob = base64.b64encode(rng.randbytes(size * 3 // 4)).decode()

    def rep(unit: str) -> str:
        return (unit * (size // len(unit) + 1))[:size]

    return {
        "plain log lines": log[:size],
        "plain base64": blob[:size],
        "run of letters": rep("a"),
        "scheme://user: runs": rep("a://b:"),
        "userinfo without @": ("x://u:" + "p" * size)[:size],
        "the secret back to back": rep(s),
        "secret prefix, raw": rep(s[:-1] + " "),
        "secret prefix, url-encoded": rep(quote(s, safe="")[:-1] + " "),
        "secret prefix, html/json": rep("Pl4nt&#x2F;ed\\u002bssm&amp;"),
        "percent runs": rep("%2F"),
        "base64 near-miss": rep(base64.b64encode(s.encode()).decode()[:-4] + "AAAA"),
        "parameter names": rep("?password"),
        "weak tokens": rep("prod-"),
    }


def best(redactor: Redactor, text: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        redactor.scrub(text)
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_patterns(mb: float, rounds: int) -> None:
    redactor = Redactor()
    for secret in [*SECRETS, *WEAK]:
        redactor.add_secret(secret)
    size = int(mb * 1_000_000)
    results = {name: best(redactor, text, rounds) * 1000 / mb for name, text in inputs(size).items()}
    baseline = max(results["plain log lines"], results["plain base64"])
    print(f"Redactor.scrub, {len(SECRETS)} strong + {len(WEAK)} weak secrets, {mb:g} MB inputs, best of {rounds}:")
    for name, ms in results.items():
        print(f"  {name:<28} {ms:8.1f} ms/MB   x{ms / baseline:5.2f} of plain")
    print(f"  worst hostile / plain: x{max(results.values()) / baseline:.2f}")


def bench_old_pattern() -> None:
    print("previous URL-credential pattern on runs of letters (quadratic) vs the redactor now:")
    redactor = Redactor()
    for n in (5_000, 10_000, 20_000, 40_000):
        text = "a" * n
        t0 = time.perf_counter()
        OLD_URL_CREDS.sub("", text)
        old = time.perf_counter() - t0
        print(f"  {n // 1000:>3} KB  old {old * 1000:9.1f} ms   now {best(redactor, text, 3) * 1000:6.2f} ms")


def bench_cli() -> None:
    """``run --only env.drift`` against moto with a 50 KB .env value that differs from SSM (shown in evidence)."""
    from moto.server import ThreadedMotoServer

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
                      AWS_DEFAULT_REGION="eu-west-1", AWS_EC2_METADATA_DISABLED="true")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # moto's request log and its unimplemented calls
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        import boto3

        from doctor.sim.world import WorldSpec, build_world, pin_ecs_task_status

        endpoint = f"http://127.0.0.1:{port}"
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        pin_ecs_task_status(endpoint)
        build_world(boto3.Session(region_name="eu-west-1"), WorldSpec(extra_params={"FEED_URL": "x"}))
        with tempfile.TemporaryDirectory() as tmp:
            env = Path(tmp) / "production.env"
            (Path(tmp) / "ame-doctor.toml").write_text("[timeline]\nenabled = false\n")  # env.drift alone
            cases = (("a 5-character value, for reference", "short"), ("50 KB of letters", "a" * 50_000),
                     ("50 KB of scheme://user: runs", ("a://b:" * 9000)[:50_000]))
            for name, value in cases:
                env.write_text(f"FEED_URL={value}\n")
                t0 = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "doctor", "run", "--only", "env.drift", "--env-file",
                                       str(env), "--format", "json", "--timeout", "120"], cwd=tmp, capture_output=True,
                                      text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
                print(f"ame-doctor run --only env.drift, .env value {name}: {time.perf_counter() - t0:.2f}s "
                      f"(exit {done.returncode}, {len(done.stdout):,} bytes of JSON)")
    finally:
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=1.0, help="size of each input in MB")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--old", action="store_true", help="also time the previous (quadratic) URL pattern")
    ap.add_argument("--cli", action="store_true", help="also time `run --only env.drift` with a 50 KB .env value")
    args = ap.parse_args()
    bench_patterns(args.mb, args.rounds)
    if args.old:
        bench_old_pattern()
    if args.cli:
        bench_cli()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
