"""Shared fixtures: moto (in-process and HTTP server), real redis-server and MariaDB, network faults.

Servers start on free loopback ports and are torn down. A missing server binary skips the test
on a developer machine and fails it under CI=true (CI must never skip silently).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from doctor.sim.servers import Blackhole, MariaDB, RedisServer, ServerUnavailable, free_port

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(what: str, exc: Exception) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required in CI but unavailable: {exc}")
    pytest.skip(f"{what} unavailable: {exc}")


@pytest.fixture(autouse=True, scope="session")
def _fake_aws_credentials() -> Iterator[None]:
    """No test may ever reach real AWS."""
    saved = dict(os.environ)
    for k in list(os.environ):
        if k.startswith("AWS_"):
            del os.environ[k]
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="eu-west-1", AWS_EC2_METADATA_DISABLED="true",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_CONFIG_FILE="/nonexistent",
    )
    os.environ.pop("AME_DOCTOR_CONFIG", None)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def moto_session() -> Iterator[object]:
    """moto in-process; ECS tasks pinned at RUNNING. Yields a boto3 Session."""
    import boto3
    from moto import mock_aws

    from doctor.sim.world import pin_ecs_task_status

    with mock_aws():
        pin_ecs_task_status()
        yield boto3.Session(region_name="eu-west-1")


@pytest.fixture
def world(moto_session: object) -> object:
    """The healthy three-service platform in moto (see doctor.sim.world)."""
    from doctor.sim.world import build_world

    return build_world(moto_session)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's HTTP server on a free loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def cloudtrail_standin() -> Iterator[object]:
    """The CloudTrail LookupEvents stand-in (moto has no LookupEvents), see doctor.sim.cloudtrail."""
    from doctor.sim.cloudtrail import CloudTrailStandIn

    standin = CloudTrailStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture
def cloudtrail(cloudtrail_standin: object, monkeypatch: pytest.MonkeyPatch) -> object:
    """An empty CloudTrail for one test, reached through AWS_ENDPOINT_URL_CLOUDTRAIL as botocore does."""
    from doctor.sim.cloudtrail import CloudTrailStandIn

    assert isinstance(cloudtrail_standin, CloudTrailStandIn)
    cloudtrail_standin.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", cloudtrail_standin.url)
    return cloudtrail_standin


@pytest.fixture
def moto_endpoint(moto_server: str, cloudtrail: object, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean moto server world for one test, with AWS_ENDPOINT_URL pointing at it (and CloudTrail's
    LookupEvents, which moto lacks, answered by the stand-in: ``cloudtrail``)."""
    import urllib.request

    from doctor.sim.world import pin_ecs_task_status

    urllib.request.urlopen(urllib.request.Request(moto_server + "/moto-api/reset", method="POST"), timeout=10)
    pin_ecs_task_status(moto_server)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    try:
        server = RedisServer().start()
    except ServerUnavailable as e:
        _unavailable("redis-server", e)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server_auth() -> Iterator[RedisServer]:
    try:
        server = RedisServer(password="r3dis-s3cret-pw").start()
    except ServerUnavailable as e:
        _unavailable("redis-server", e)
    yield server
    server.stop()


@pytest.fixture
def redis_clean(redis_server: RedisServer) -> RedisServer:
    for db in range(16):
        redis_server.client(db).flushdb()
    return redis_server


@pytest.fixture(scope="session")
def mariadb_pair() -> Iterator[tuple[MariaDB, MariaDB]]:
    """A MariaDB writer and a read-only twin (stands for an Aurora reader)."""
    try:
        writer, reader = MariaDB.pair()
    except ServerUnavailable as e:
        _unavailable("MariaDB", e)
    yield writer, reader
    writer.stop()
    reader.stop()


@pytest.fixture(scope="session")
def scenario_runs(redis_server: RedisServer, mariadb_pair: tuple[MariaDB, MariaDB],
                  tmp_path_factory: pytest.TempPathFactory) -> object:
    """name -> the demo scenario's run (report + world), built and diagnosed once per session: see
    support.demo.ScenarioRuns."""
    from support.demo import ScenarioRuns

    return ScenarioRuns(redis_server, *mariadb_pair, tmp_path_factory)


@pytest.fixture
def mariadb(mariadb_pair: tuple[MariaDB, MariaDB]) -> MariaDB:
    writer = mariadb_pair[0]
    writer.execute_root([f"DELETE FROM `{writer.database}`.failed_jobs"])
    return writer


@pytest.fixture
def mariadb_reader(mariadb_pair: tuple[MariaDB, MariaDB]) -> MariaDB:
    return mariadb_pair[1]


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    """A loopback port whose connects time out."""
    b = Blackhole()
    yield b
    b.close()


@pytest.fixture
def refused_port() -> int:
    return free_port()


@pytest.fixture
def unresolvable_name() -> str:
    return "no-such-host.ame-doctor.invalid"


@pytest.fixture
def dns_server() -> Iterator[object]:
    """A DNS responder on loopback; ``.set(name, 'CNAME'|'A', value)``; ``.nameserver`` is 'host:port'."""
    from doctor.sim.dns import DnsServer

    server = DnsServer().start()
    yield server
    server.stop()


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m doctor ARGS`` as a user would; returns the completed process (text)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONPATH", str(ROOT))
    return subprocess.run([sys.executable, "-m", "doctor", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    return run_cli
