"""The demo's simulated production and its fault scenarios.

``SimPlatform`` stands up, on loopback and in-process, everything the real checks talk to:
AWS (moto ``mock_aws`` + :func:`doctor.sim.world.build_world`), Redis (a real ``redis-server`` when
installed, else fakeredis's TCP server), Aurora (a real MariaDB when installed; without one the
database parts are reported as unavailable, never faked), the cluster endpoints' DNS
(:class:`doctor.sim.dns.DnsServer`), the worker image's Laravel runtime directories (the ``local``
probe's app root) and the web tier's production ``.env``.

Each scenario injects one fault into that world the way it happens in production — a security-group
rule revoked, a parameter rotated, a task stopped with the reason ECS gives, packets dropped on the
path — and the real engine and checks then find it. Nothing is a canned result.

The simulated network honours security groups and NACLs by routing: every endpoint's DNS name
points at its own loopback address (127.0.0.1), and a blocked path re-points the endpoint at a
loopback alias (127.0.0.2/.3) where a listener never accepts, so connects time out as they do on AWS.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from doctor.sim.servers import Blackhole
from doctor.sim.world import World, WorldSpec, build_world, pin_ecs_task_status, put_log_lines

ACCOUNT = "123456789012"  # moto's default account
LARAVEL_DIRS = ("storage/framework/cache/data", "storage/framework/sessions", "storage/framework/views",
                "storage/logs", "bootstrap/cache")
PREFIX = "propertyfeedtemplate_database_"  # Laravel: slug(APP_NAME, '_') . '_database_'
OLD_DB_HOST = "ame-aurora-old.cluster-c0ld0ld0ld.eu-west-1.rds.amazonaws.com"


class ScenarioUnavailable(RuntimeError):
    """The scenario needs a part this machine does not have (e.g. no MariaDB/MySQL server)."""


# --- network faults ----------------------------------------------------------------------------


def _teach_fakeredis_role_and_info() -> None:
    """fakeredis implements neither ROLE nor INFO; ElastiCache's primary answers both. Teach the
    stand-in the replies a standalone primary gives (role, memory policy, stats, keyspace)."""
    from fakeredis._commands import SUPPORTED_COMMANDS, command
    from fakeredis._socket._fakesocket import FakeSocket

    if "info" in SUPPORTED_COMMANDS and hasattr(FakeSocket, "info"):
        return

    def role(self: Any) -> list[Any]:
        return [b"master", 0, []]

    def info(self: Any, *sections: bytes) -> bytes:
        keyspace = [f"db{i}:keys={len(db)},expires=0,avg_ttl=0" for i, db in sorted(self._server.dbs.items())
                    if len(db)]
        parts = {
            "server": ["redis_version:7.1.0", "redis_mode:standalone"],
            "replication": ["role:master", "connected_slaves:0"],
            "memory": ["used_memory:1048576", "maxmemory_policy:noeviction"],
            "stats": ["evicted_keys:0", "expired_keys:0"],
            "keyspace": keyspace,
        }
        wanted = [x.decode().lower() for x in sections] or list(parts)
        if "all" in wanted or "everything" in wanted:
            wanted = list(parts)
        text = "\r\n".join(f"# {name.title()}\r\n" + "\r\n".join(parts[name])
                            for name in wanted if name in parts)
        return (text + "\r\n").encode()

    FakeSocket.role = command(())(role)  # type: ignore[attr-defined]
    FakeSocket.info = command((), (bytes,))(info)  # type: ignore[attr-defined]


class FakeRedisTcp:
    """fakeredis's TCP server, used only when no ``redis-server`` is installed."""

    def __init__(self) -> None:
        from fakeredis import TcpFakeServer

        from doctor.sim.servers import free_port

        _teach_fakeredis_role_and_info()

        self.host = "127.0.0.1"
        self.port = free_port()
        self.password: str | None = None
        self.server = TcpFakeServer((self.host, self.port), server_type="redis")
        self.thread = threading.Thread(target=self.server.serve_forever, name="sim-fakeredis", daemon=True)

    def start(self) -> FakeRedisTcp:
        self.thread.start()
        return self

    def client(self, db: int = 0):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(host=self.host, port=self.port, db=db, socket_timeout=5)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the platform ------------------------------------------------------------------------------
@dataclass
class SimPlatform:
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ame-demo-")))
    redis_kind: str = ""   # "redis-server" | "fakeredis"
    db_kind: str = ""      # "mariadb" | "" (unavailable)
    session: Any = None
    world: World | None = None
    dns: Any = None
    redis: Any = None
    db: Any = None
    env: dict[str, str] = field(default_factory=dict)   # the web tier's production .env
    exec_transport: str = "local"
    skip: list[str] = field(default_factory=list)       # checks the simulation cannot serve
    notes: list[str] = field(default_factory=list)      # what is simulated how, shown to the user
    _mock: Any = None
    _dropping: dict[tuple[str, int], Blackhole] = field(default_factory=dict)
    _closers: list[Callable[[], None]] = field(default_factory=list)
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    # -- lifecycle
    def start(self, progress: Callable[[str], None] = lambda s: None) -> SimPlatform:
        try:
            self._start(progress)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, progress: Callable[[str], None]) -> None:
        from doctor.sim.dns import DnsServer
        from doctor.sim.servers import MariaDB, RedisServer, ServerUnavailable

        self._isolate_aws()
        if self.redis is not None:  # servers handed in (tests share them across scenarios)
            self.redis_kind = self.redis_kind or "redis-server"
        else:
            progress("starting Redis")
            try:
                self.redis = RedisServer().start()
                self.redis_kind = "redis-server"
            except ServerUnavailable:
                self.redis = FakeRedisTcp().start()
                self.redis_kind = "fakeredis"
            self._closers.append(self.redis.stop)
        if self.db is not None:
            self.db_kind = "mariadb"
        else:
            progress("starting MariaDB (stands in for Aurora)")
            why = ""
            for _attempt in range(2):  # a busy machine occasionally fails install-db; try once more
                try:
                    db = MariaDB()
                    self._closers.append(db.stop)
                    db.initialise()
                    db.start()
                    self.db, self.db_kind = db, "mariadb"
                    break
                except ServerUnavailable:
                    why = "no MariaDB/MySQL server installed"
                    break
                except (subprocess.CalledProcessError, RuntimeError, OSError) as e:
                    err = getattr(e, "stderr", b"") or b""
                    why = f"MariaDB did not start ({type(e).__name__}: {err.decode(errors='replace')[-200:] or e})"
                    db.stop()
            if self.db is None:
                self.skip.append("reach.aurora")
                self.notes.append(f"{why}: reach.aurora is skipped and the failed_jobs reading of queue.state is "
                                  "unknown (install mariadb-server for the full demo)")
        self.dns = DnsServer().start()
        self._closers.append(self.dns.stop)
        progress("building the AWS account (moto)")
        from moto import mock_aws

        self._mock = mock_aws()
        self._mock.start()
        pin_ecs_task_status()
        import boto3

        self.session = boto3.Session(region_name="eu-west-1")
        self.world = build_world(self.session, WorldSpec(
            redis_port=self.redis.port, db_port=self.db.port if self.db else 3306))
        self._backdate()
        self._wire_dns()
        app = self.workdir / "app"
        for d in LARAVEL_DIRS:
            (app / d).mkdir(parents=True, exist_ok=True)
        self.env = dict(self.ssm_values())
        self.notes.insert(0, f"AWS: moto in-process; Redis: {self.redis_kind} on 127.0.0.1:{self.redis.port}; "
                             f"Aurora: {'MariaDB on 127.0.0.1:' + str(self.db.port) if self.db else 'unavailable'}; "
                             f"DNS: {self.dns.nameserver}; probe: the local transport")

    def _isolate_aws(self) -> None:
        """Never reach real AWS: fake credentials, no profile, no endpoint override."""
        fake = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_SESSION_TOKEN": "demo",
                "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_CONFIG_FILE": os.devnull}
        for k in [k for k in os.environ if k.startswith("AWS_")] + list(fake):
            self._saved_env.setdefault(k, os.environ.get(k))
            os.environ.pop(k, None)
        os.environ.update(fake)
        self._saved_env.setdefault("AME_DOCTOR_CONFIG", os.environ.pop("AME_DOCTOR_CONFIG", None))

    def stop(self) -> None:
        if self._mock is not None:
            with contextlib.suppress(Exception):
                self._mock.stop()
            self._mock = None
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):
                close()
        self._closers.clear()
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._saved_env.clear()

    # -- helpers for scenarios
    @property
    def w(self) -> World:
        assert self.world is not None
        return self.world

    def ssm_values(self) -> dict[str, str]:
        ssm = self.session.client("ssm")
        out: dict[str, str] = {}
        kw: dict[str, Any] = {}
        while True:
            resp = ssm.get_parameters_by_path(Path=self.w.spec.ssm_path, Recursive=True, WithDecryption=True, **kw)
            out.update({p["Name"].rsplit("/", 1)[-1]: p["Value"] for p in resp["Parameters"]})
            if not resp.get("NextToken"):
                return out
            kw = {"NextToken": resp["NextToken"]}

    def put_param(self, key: str, value: str, secure: bool = False, ago: timedelta | None = None) -> None:
        """Set a parameter now, or (``ago``) as it was set that long ago (before the tasks started)."""
        self.session.client("ssm").put_parameter(Name=self.w.param(key), Value=value, Overwrite=True,
                                                 Type="SecureString" if secure else "String")
        if ago is not None:
            from moto.core.utils import utcnow
            from moto.ssm.models import ssm_backends

            for version in ssm_backends[ACCOUNT][self.w.spec.region]._parameters[self.w.param(key)]:
                version.last_modified_date = utcnow() - ago

    def ecs_backend(self) -> Any:
        from moto.ecs.models import ecs_backends

        return ecs_backends[ACCOUNT][self.w.spec.region]

    def _backdate(self) -> None:
        """What real AWS reports and moto does not: tasks started an hour ago, parameters last changed
        before that, ECS Exec enabled as requested with its managed agent running."""
        from datetime import UTC, datetime

        from moto.core.utils import utcnow
        from moto.ssm.models import ssm_backends
        started = datetime.now(UTC) - timedelta(hours=1)
        backend = self.ecs_backend()
        for svc in backend.services.values():  # created with enableExecuteCommand=True; moto drops it
            svc.enable_execute_command = True
        for tasks in backend.tasks.values():
            for t in tasks.values():
                t.started_at = started
                t.enable_execute_command = True  # as run; plus the agent real ECS reports on exec tasks
                for c in t.containers:
                    c.managed_agents = [{"name": "ExecuteCommandAgent", "lastStatus": "RUNNING"}]
        ssm = ssm_backends[ACCOUNT][self.w.spec.region]
        for name in list(ssm._parameters):
            for version in ssm._parameters[name]:
                version.last_modified_date = utcnow() - timedelta(hours=2)

    def _wire_dns(self) -> None:
        w = self.w
        self.dns.set(w.redis_host, "A", "127.0.0.1")
        instances = sorted(w.db_instance_endpoints.items())
        self.dns.set(w.db_writer_endpoint, "CNAME", instances[0][1])
        self.dns.set(w.db_reader_endpoint, "CNAME", instances[-1][1])
        for _, endpoint in instances:
            self.dns.set(endpoint, "A", "127.0.0.1")

    def drop_path(self, name: str, alias: str, port: int) -> None:
        """Packets to ``name`` are dropped from now on (its address now leads to a non-accepting port)."""
        if (alias, port) not in self._dropping:
            listener = Blackhole(alias, port)
            self._dropping[(alias, port)] = listener
            self._closers.append(listener.close)
        self.dns.set(name, "A", alias)

    def stop_task(self, arn: str, reason: str, stop_code: str, exit_code: int | None,
                  ago: timedelta = timedelta(minutes=2)) -> None:
        """Stop a task through the API, then give it what real ECS reports (moto: no stopCode/exit codes)."""
        from datetime import UTC, datetime

        cluster = self.w.spec.cluster
        self.session.client("ecs").stop_task(cluster=cluster, task=arn, reason=reason)
        t = next(t for t in self.ecs_backend().tasks[cluster].values() if t.task_arn == arn)
        t.stopped_at = datetime.now(UTC) - ago
        t.started_at = t.stopped_at - timedelta(seconds=20)
        t.stop_code = stop_code
        for c in t.containers:
            c.last_status = "STOPPED"
            if exit_code is not None:
                c.exitCode = exit_code

    def start_failing_tasks(self, queue: str, count: int, reason: str, stop_code: str,
                            exit_code: int | None, log_lines: list[str] | None = None) -> None:
        """The service keeps starting tasks that stop: ``count`` stopped tasks with ECS's reason."""
        ecs = self.session.client("ecs")
        w = self.w
        service = w.services[queue]
        netcfg = {"awsvpcConfiguration": {"subnets": list(w.worker_subnets), "securityGroups": [w.worker_sg]}}
        for i in range(count):
            arn = ecs.run_task(cluster=w.spec.cluster, taskDefinition=w.task_definitions[service],
                               launchType="FARGATE", group=f"service:{service}", networkConfiguration=netcfg,
                               startedBy="ecs-svc/1234567890")["tasks"][0]["taskArn"]
            if log_lines:
                put_log_lines(self.session.client("logs"), w.log_groups[service], f"ecs/app/{arn.rsplit('/', 1)[-1]}",
                              log_lines)
            self.stop_task(arn, reason, stop_code, exit_code, ago=timedelta(minutes=2 + 3 * i))

    # -- what the doctor is pointed at
    def config(self) -> dict[str, Any]:
        env_file = self.workdir / "production.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()), encoding="utf-8")
        return {
            "aws": {"region": self.w.spec.region},
            "ecs": {"cluster": self.w.spec.cluster},
            "ssm": {"path": self.w.spec.ssm_path},
            "dns": {"nameservers": [self.dns.nameserver]},
            "env": {"file": str(env_file)},
            "exec": {"transport": self.exec_transport, "app_root": str(self.workdir / "app"), "timeout": 10},
            "run": {"timeout": 90, "check_timeout": 45},
        }

    def write_config(self) -> Path:
        path = self.workdir / "ame-doctor.toml"
        lines: list[str] = []
        for section, values in self.config().items():
            lines.append(f"[{section}]")
            lines.extend(f"{k} = {json.dumps(v)}" for k, v in values.items())
            lines.append("")
        path.write_text("\n".join(lines), encoding="utf-8")
        return path


# --- the faults --------------------------------------------------------------------------------
def _job(queue: str, n: int, attempts: int = 0, max_tries: int | None = 3) -> str:
    return json.dumps({"uuid": f"00000000-0000-0000-0000-{n:012d}", "displayName": "App\\Jobs\\ResizeImage",
                       "job": "Illuminate\\Queue\\CallQueuedHandler@call", "maxTries": max_tries, "timeout": 60,
                       "data": {"commandName": "App\\Jobs\\ResizeImage", "command": "O:0:{}"},
                       "id": f"job{n}", "attempts": attempts, "queue": queue})


def healthy(p: SimPlatform) -> None:
    """No fault: a few jobs in flight, consumed normally."""
    r = p.redis.client(0)
    for n in range(2):
        r.rpush(f"{PREFIX}queues:image", _job("image", n))


def bad_db_host(p: SimPlatform) -> None:
    """DB_HOST (SSM and the web tier's .env) names a cluster that was deleted; its name no longer resolves."""
    p.put_param("DB_HOST", OLD_DB_HOST, ago=timedelta(days=3))
    p.env["DB_HOST"] = OLD_DB_HOST


def _revoke_worker_rule(ec2: Any, group: str, worker_sg: str) -> None:
    """Remove ``group``'s ingress rule that references the worker SG (by rule id, as the console does)."""
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    ids = [r["SecurityGroupRuleId"] for r in rules if not r.get("IsEgress")
           and r.get("ReferencedGroupInfo", {}).get("GroupId") == worker_sg]
    if not ids:
        raise RuntimeError(f"no ingress rule from {worker_sg} on {group}")
    ec2.revoke_security_group_ingress(GroupId=group, SecurityGroupRuleIds=ids)


def missing_aurora_ingress(p: SimPlatform) -> None:
    """The Aurora SG lost its 3306 rule from the worker SG (replaced by old worker /32s); the VPC drops the packets."""
    ec2 = p.session.client("ec2")
    w = p.w
    _revoke_worker_rule(ec2, w.aurora_sg, w.worker_sg)
    ec2.authorize_security_group_ingress(GroupId=w.aurora_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306,
        "IpRanges": [{"CidrIp": "172.31.40.11/32", "Description": "old worker 1"}]}])
    for endpoint in w.db_instance_endpoints.values():
        p.drop_path(endpoint, "127.0.0.2", p.db.port)


def missing_redis_ingress(p: SimPlatform) -> None:
    """The Redis SG admits only the old worker hosts' /32s, not the worker SG; the VPC drops the packets."""
    ec2 = p.session.client("ec2")
    w = p.w
    _revoke_worker_rule(ec2, w.redis_sg, w.worker_sg)
    ec2.authorize_security_group_ingress(GroupId=w.redis_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379,
        "IpRanges": [{"CidrIp": "172.31.40.11/32", "Description": "old worker 1"},
                     {"CidrIp": "172.31.40.12/32", "Description": "old worker 2"}]}])
    p.drop_path(w.redis_host, "127.0.0.3", p.redis.port)


def stale_ssm_values(p: SimPlatform) -> None:
    """DB_PASSWORD was rotated (SSM and the database) ten minutes ago; the workers started an hour ago."""
    new = "r0tated-db-password-2026"
    p.put_param("DB_PASSWORD", new, secure=True)
    p.env["DB_PASSWORD"] = new
    if p.db is not None:
        p.db.execute_root([f"ALTER USER '{p.db.user}'@'%' IDENTIFIED BY '{new}'",
                           f"ALTER USER '{p.db.user}'@'localhost' IDENTIFIED BY '{new}'"])
        p.db.password = new


def bad_container_image(p: SimPlatform) -> None:
    """The image service was deployed with a tag that does not exist: every task fails to pull it."""
    image = p.w.spec.image.replace(":prod", ":prod-2026-11-27")
    p.start_failing_tasks("image", 3, f"CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                          f"failed to resolve ref {image}: {image}: not found", "TaskFailedToStart", None)


def missing_runtime_dirs(p: SimPlatform) -> None:
    """The worker image ships without storage/framework/views: Laravel cannot compile views at boot."""
    import shutil

    shutil.rmtree(p.workdir / "app" / "storage" / "framework" / "views")
    p.start_failing_tasks("image", 3, "Essential container in task exited", "EssentialContainerExited", 1,
                          log_lines=["In Compiler.php line 67:", "  Please provide a valid cache path."])


def bad_bootstrap(p: SimPlatform) -> None:
    """bulk tasks cannot start: the execution role lost ssm:GetParameters, so the secrets cannot be injected."""
    p.start_failing_tasks("bulk", 3, "ResourceInitializationError: unable to pull secrets or registry auth: execution "
                          "resource retrieval failed: unable to retrieve secrets from ssm: service call has been "
                          "retried 1 time(s): AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/"
                          "ame-ecs-execution/x is not authorized to perform: ssm:GetParameters",
                          "TaskFailedToStart", None)


def workers_not_consuming(p: SimPlatform) -> None:
    """bulk was scaled to zero during an incident and never scaled back: reservations expired, backlog waits."""
    r = p.redis.client(0)
    now = time.time()
    for n in range(3):
        r.zadd(f"{PREFIX}queues:bulk:reserved", {_job("bulk", n, attempts=1): now - 3600 + n})
    for n in range(40):
        r.rpush(f"{PREFIX}queues:bulk", _job("bulk", 100 + n))
    w = p.w
    service = w.services["bulk"]
    p.session.client("ecs").update_service(cluster=w.spec.cluster, service=service, desiredCount=0)
    for arn in w.tasks[service]:
        p.stop_task(arn, "Scaling activity initiated by (deployment ecs-svc/1)", "ServiceSchedulerInitiated", 0)


def jobs_failing_and_requeueing(p: SimPlatform) -> None:
    """image jobs throw on every attempt and are released back with a delay; failures pile up in failed_jobs."""
    r = p.redis.client(0)
    now = time.time()
    for n in range(8):
        r.zadd(f"{PREFIX}queues:image:delayed", {_job("image", 200 + n, attempts=2): now + 120 + n})
    for n in range(6):
        r.rpush(f"{PREFIX}queues:image", _job("image", 300 + n, attempts=1 + n % 2))
    if p.db is not None:
        rows = []
        for n in range(12):
            rows.append(
                "INSERT INTO failed_jobs (uuid, connection, queue, payload, exception, failed_at) VALUES "
                f"('11111111-0000-0000-0000-{n:012d}', 'redis', 'image', '{{}}', "
                "'Intervention\\\\Image\\\\Exception\\\\NotReadableException: Unable to decode image. in "
                "/var/www/html/vendor/intervention/image/src/Decoders.php:41', "
                f"NOW() - INTERVAL {3 * n + 1} MINUTE)")
        p.db.execute_root([f"USE `{p.db.database}`", *rows])


def wrong_redis(p: SimPlatform) -> None:
    """The workers were given REDIS_PREFIX=ame_workers_: the web tier pushes under the default prefix."""
    p.put_param("REDIS_PREFIX", "ame_workers_", ago=timedelta(days=3))
    r = p.redis.client(0)
    for n in range(25):
        r.rpush(f"{PREFIX}queues:image", _job("image", 400 + n))


def db_path_blocked(p: SimPlatform) -> None:
    """DB_HOST resolves and the SG is right, but a NACL change drops 3306 between the workers and Aurora."""
    for endpoint in p.w.db_instance_endpoints.values():
        p.drop_path(endpoint, "127.0.0.2", p.db.port)


def redis_path_unhealthy(p: SimPlatform) -> None:
    """REDIS_HOST resolves and the SG is right, but connections to the primary hang (node failing over)."""
    p.drop_path(p.w.redis_host, "127.0.0.3", p.redis.port)


@dataclass(frozen=True)
class Scenario:
    name: str
    inject: Callable[[SimPlatform], None]
    playbook: str | None = None
    cause: str | None = None
    peers: tuple[str, ...] = ()   # other causes the same fault legitimately also shows
    needs_db: bool = False

    @property
    def description(self) -> str:
        return (self.inject.__doc__ or "").strip()


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("healthy", healthy),
    Scenario("bad-db-host", bad_db_host, "jobs-fail-immediately", "bad-db-host"),
    Scenario("missing-aurora-ingress", missing_aurora_ingress, "jobs-fail-immediately", "missing-aurora-ingress",
             peers=("db-path-blocked",), needs_db=True),
    Scenario("missing-redis-ingress", missing_redis_ingress, "jobs-fail-immediately", "missing-redis-ingress",
             peers=("redis-path-unhealthy",)),
    Scenario("stale-ssm-values", stale_ssm_values, "jobs-fail-immediately", "stale-ssm-values"),
    Scenario("bad-container-image", bad_container_image, "no-steady-state", "bad-container-image",
             peers=("bad-bootstrap",)),
    Scenario("missing-runtime-dirs", missing_runtime_dirs, "no-steady-state", "missing-runtime-dirs",
             peers=("bad-bootstrap",)),
    Scenario("bad-bootstrap", bad_bootstrap, "no-steady-state", "bad-bootstrap"),
    Scenario("workers-not-consuming", workers_not_consuming, "queue-not-draining", "workers-not-consuming"),
    Scenario("jobs-failing-and-requeueing", jobs_failing_and_requeueing, "queue-not-draining",
             "jobs-failing-and-requeueing", needs_db=True),
    Scenario("wrong-redis", wrong_redis, "queue-not-draining", "wrong-redis"),
    Scenario("db-path-blocked", db_path_blocked, "timeout-symptoms", "db-path-blocked",
             peers=("missing-aurora-ingress",), needs_db=True),
    Scenario("redis-path-unhealthy", redis_path_unhealthy, "timeout-symptoms", "redis-path-unhealthy",
             peers=("missing-redis-ingress",)),
]}


def get_scenario(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise KeyError(name)
    return SCENARIOS[name]


def start(scenario: Scenario, progress: Callable[[str], None] = lambda s: None,
          workdir: Path | None = None, redis: Any = None, db: Any = None) -> SimPlatform:
    """A running simulated production with ``scenario``'s fault injected (call ``.stop()`` after).
    ``redis``/``db``: already-running servers to use (not stopped afterwards)."""
    platform = SimPlatform(workdir=workdir) if workdir else SimPlatform()
    platform.redis, platform.db = redis, db
    platform.start(progress)
    try:
        if scenario.needs_db and platform.db is None:
            raise ScenarioUnavailable(f"scenario {scenario.name} needs a MariaDB/MySQL server (install mariadb-server)")
        progress(f"injecting the fault: {scenario.name}")
        scenario.inject(platform)
    except BaseException:
        platform.stop()
        raise
    return platform


def verdict(scenario: Scenario, report: Any) -> tuple[bool, str]:
    """Did the real checks diagnose the injected fault? (the same bar as the end-to-end tests)"""
    from doctor.model import CauseState

    strong = (CauseState.confirmed, CauseState.likely)
    ranked = sorted(((p, c) for p in report.playbooks for c in p.causes),
                    key=lambda pc: ({CauseState.confirmed: 0, CauseState.likely: 1}.get(pc[1].state, 2), -pc[1].score))
    if scenario.cause is None:
        above = [f"{p.id}/{c.id}" for p, c in ranked if c.state in strong]
        return (not above, "no cause confirmed or likely" if not above else f"unexpected: {', '.join(above)}")
    ok_ids = (scenario.cause, *scenario.peers)
    ours = next((c for _, c in ranked if c.id == scenario.cause), None)
    if ours is None or ours.state not in strong:
        return False, f"{scenario.cause} is {ours.state.value if ours else 'absent'}"
    best = ranked[0][1]
    if best.id not in ok_ids and not (best.state == ours.state and best.score <= ours.score):
        return False, f"{best.id} ranks above {scenario.cause}"
    stray = [c.id for _, c in ranked if c.state == CauseState.confirmed and c.id not in ok_ids]
    if stray:
        return False, f"{scenario.cause} {ours.state.value}, but also confirmed: {', '.join(stray)}"
    return True, f"{scenario.cause} {ours.state.value}"
