"""The demo's simulated production: ``SimPlatform`` stands up, on loopback and in-process, everything
the real checks talk to — AWS (moto ``mock_aws`` + :func:`doctor.sim.world.build_world`), Redis (a real
``redis-server`` when installed, else fakeredis's TCP server), Aurora (a real MariaDB when installed;
without one the database parts are reported as unavailable, never faked), the cluster endpoints' DNS
(:class:`doctor.sim.dns.DnsServer`), the worker image's Laravel runtime directories (the ``local``
probe's app root) and the web tier's production ``.env``.

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
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from doctor.sim import controller as sim_controller
from doctor.sim.cloudtrail import CloudTrailStandIn, Recorder
from doctor.sim.controller import SENTRY_TOKEN_ENV, ControllerWorld
from doctor.sim.dns import DnsServer
from doctor.sim.fakeredis_tcp import FakeRedisTcp
from doctor.sim.sentry_server import SentryStandIn
from doctor.sim.servers import Blackhole, MariaDB, RedisServer, Relay, ServerUnavailable
from doctor.sim.world import (
    World,
    WorldSpec,
    bend_ecs_exec,
    build_world,
    pin_ecs_task_status,
    put_log_events,
    put_log_lines,
)
from doctor.timeline.catalogue import CATALOGUE

ACCOUNT = "123456789012"  # moto's default account
LARAVEL_DIRS = ("storage/framework/cache/data", "storage/framework/sessions", "storage/framework/views",
                "storage/logs", "bootstrap/cache")
PREFIX = "propertyfeedtemplate_database_"  # Laravel: slug(APP_NAME, '_') . '_database_'
OLD_DB_HOST = "ame-aurora-old.cluster-c0ld0ld0ld.eu-west-1.rds.amazonaws.com"


class ScenarioUnavailable(RuntimeError):
    """The scenario needs a part this machine does not have (e.g. no MariaDB/MySQL server)."""


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
    reader: Any = None     # the read-only MariaDB behind the reader instance (serve_reader)
    env: dict[str, str] = field(default_factory=dict)   # the web tier's production .env
    exec_transport: str = "local"
    skip: list[str] = field(default_factory=list)       # checks the simulation cannot serve
    notes: list[str] = field(default_factory=list)      # what is simulated how, shown to the user
    _mock: Any = None
    _dropping: dict[tuple[str, int], Blackhole] = field(default_factory=dict)
    _closers: list[Callable[[], None]] = field(default_factory=list)
    _saved_env: dict[str, str | None] = field(default_factory=dict)
    trail: CloudTrailStandIn | None = None  # the account's CloudTrail (LookupEvents), see _start_trail
    recorder: Recorder | None = None        # records the writes made through `session` into it
    controller: ControllerWorld | None = None  # the burst/drain controller (doctor.sim.controller)
    sentry: SentryStandIn | None = None        # the workers' Sentry (a local stand-in of its REST API)

    # -- lifecycle
    def start(self, progress: Callable[[str], None] = lambda s: None) -> SimPlatform:
        try:
            self._start(progress)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, progress: Callable[[str], None]) -> None:

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
        self._start_integrations()
        self._start_trail()
        self._wire_dns()
        app = self.workdir / "app"
        for d in LARAVEL_DIRS:
            (app / d).mkdir(parents=True, exist_ok=True)
        self.env = dict(self.ssm_values())
        self.notes.insert(0, f"AWS: moto in-process; Redis: {self.redis_kind} on 127.0.0.1:{self.redis.port}; "
                             f"Aurora: {'MariaDB on 127.0.0.1:' + str(self.db.port) if self.db else 'unavailable'}; "
                             f"DNS: {self.dns.nameserver}; probe: the local transport")

    def _start_integrations(self) -> None:
        """The controller (a healthy Lambda with its rule, metrics and logs) and the workers' Sentry, quiet: only
        old unresolved issues. The Sentry token lives in this process's environment while the platform runs."""
        self.controller = sim_controller.build_controller(self.session, self.w)
        self.sentry = sim_controller.start_sentry()
        self._closers.append(self.sentry.stop)
        sim_controller.quiet_sentry(self.sentry)
        self._saved_env.setdefault(SENTRY_TOKEN_ENV, os.environ.get(SENTRY_TOKEN_ENV))
        os.environ[SENTRY_TOKEN_ENV] = sim_controller.SENTRY_TOKEN

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
        if ago is None and self.recorder is not None:
            ago = self.recorder.ago  # the scenario's change time
        with self.changes_at(ago):
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
        two days ago (before the services' deployment), ECS Exec enabled as requested with its managed agent
        running."""
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
                version.last_modified_date = utcnow() - timedelta(days=2)

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
                  ago: timedelta = timedelta(minutes=2), ran: timedelta = timedelta(seconds=20)) -> None:
        """Stop a task through the API, then give it what real ECS reports (moto: no stopCode/exit codes):
        stopped ``ago``, after running for ``ran``."""
        cluster = self.w.spec.cluster
        self.session.client("ecs").stop_task(cluster=cluster, task=arn, reason=reason)
        t = self._backend_task(arn)
        t.stopped_at = datetime.now(UTC) - ago
        t.started_at = t.stopped_at - ran
        t.stop_code = stop_code
        for c in t.containers:
            c.last_status = "STOPPED"
            if exit_code is not None:
                c.exitCode = exit_code

    def _backend_task(self, arn: str) -> Any:
        return next(t for t in self.ecs_backend().tasks[self.w.spec.cluster].values() if t.task_arn == arn)

    def _run_service_task(self, queue: str, started_by: str = "ecs-svc/1234567890") -> str:
        w = self.w
        service = w.services[queue]
        netcfg = {"awsvpcConfiguration": {"subnets": list(w.worker_subnets), "securityGroups": [w.worker_sg]}}
        return str(self.session.client("ecs").run_task(
            cluster=w.spec.cluster, taskDefinition=w.task_definitions[service], launchType="FARGATE",
            group=f"service:{service}", networkConfiguration=netcfg, startedBy=started_by,
            enableExecuteCommand=True)["tasks"][0]["taskArn"])

    def start_failing_tasks(self, queue: str, count: int, reason: str, stop_code: str,
                            exit_code: int | None, log_lines: list[str] | None = None,
                            ago: timedelta = timedelta(minutes=2)) -> None:
        """The service keeps starting tasks that stop: ``count`` stopped tasks with ECS's reason, the newest
        ``ago``, then one every 3 minutes before it; each logs ``log_lines`` just before it stops."""
        for i in range(count):
            arn = self._run_service_task(queue)
            stopped = ago + timedelta(minutes=3 * i)
            if log_lines:
                self.log(queue, arn, log_lines, ago=stopped + timedelta(seconds=5))
            self.stop_task(arn, reason, stop_code, exit_code, ago=stopped)

    def log(self, queue: str, arn: str, lines: list[str], ago: timedelta = timedelta(0)) -> None:
        """``lines`` in the task's awslogs stream (``ecs/app/<task id>``), written ``ago``."""
        service = self.w.services[queue]
        put_log_lines(self.session.client("logs"), self.w.log_groups[service], f"ecs/app/{arn.rsplit('/', 1)[-1]}",
                      lines, at=(datetime.now(UTC) - ago).timestamp())

    def log_events(self, queue: str, arn: str, events: list[tuple[timedelta, str]]) -> None:
        """``(how long ago, line)`` events in the task's awslogs stream."""
        now = datetime.now(UTC)
        put_log_events(self.session.client("logs"), self.w.log_groups[self.w.services[queue]],
                       f"ecs/app/{arn.rsplit('/', 1)[-1]}", [((now - ago).timestamp(), line) for ago, line in events])

    def redeploy(self, queue: str, ago: timedelta, command: list[str] | None = None, count: int = 1) -> list[str]:
        """A deployment of ``queue``'s service ``ago``: a new task definition revision (the worker container with
        ``command``, else unchanged), the running tasks replaced by the scheduler, ``count`` new tasks RUNNING
        since then. Returns the new tasks' ARNs."""
        ecs = self.session.client("ecs")
        w = self.w
        service = w.services[queue]
        td = ecs.describe_task_definition(taskDefinition=w.task_definitions[service])["taskDefinition"]
        container = {**td["containerDefinitions"][0], **({"command": command} if command else {})}
        keep = ("family", "networkMode", "requiresCompatibilities", "cpu", "memory", "executionRoleArn", "taskRoleArn")
        with self.changes_at(ago):  # CloudTrail records the release when it was made
            w.task_definitions[service] = ecs.register_task_definition(
                **{k: td[k] for k in keep}, containerDefinitions=[container])["taskDefinition"]["taskDefinitionArn"]
            ecs.update_service(cluster=w.spec.cluster, service=service, taskDefinition=w.task_definitions[service],
                               desiredCount=count, forceNewDeployment=True)
        started = datetime.now(UTC) - ago
        deployment = next(s for s in self.ecs_backend().services.values() if s.name == service).deployments[0]
        deployment.update(createdAt=started, updatedAt=started + timedelta(minutes=3), desiredCount=count,
                          runningCount=count, pendingCount=0, taskDefinition=w.task_definitions[service])
        for arn in w.tasks[service]:
            old = self._backend_task(arn)
            self.stop_task(arn, f"Task stopped by the deployment {deployment['id']}", "ServiceSchedulerInitiated",
                           143, ago=ago - timedelta(minutes=2),
                           ran=datetime.now(UTC) - (ago - timedelta(minutes=2)) - old.started_at)
        w.tasks[service] = [self._run_service_task(queue, started_by=deployment["id"]) for _ in range(count)]
        bend_ecs_exec(w, ACCOUNT)
        for arn in w.tasks[service]:
            self._backend_task(arn).started_at = started + timedelta(seconds=40)
            self.log(queue, arn, [f"   INFO  Processing jobs from the [{queue}] queue."], ago=ago - timedelta(seconds=45))
        return w.tasks[service]

    def service_event(self, queue: str, message: str, ago: timedelta) -> None:
        """An event in the service's event list (``{service}`` in ``message`` names it), as ECS posts them."""
        service = self.w.services[queue]
        svc = next(s for s in self.ecs_backend().services.values() if s.name == service)
        svc.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": datetime.now(UTC) - ago,
                              "message": message.format(service=service)})
        svc.events.sort(key=lambda e: e["createdAt"], reverse=True)

    def serve_reader(self, alias: str = "127.0.0.5") -> None:
        """The cluster's reader instance answers on its own address, as on Aurora: a read-only MariaDB (handed in,
        else started here) behind ``alias`` on the DB port; the reader endpoint leads there."""
        if self.db is None:
            raise ScenarioUnavailable("the reader needs a MariaDB/MySQL server (install mariadb-server)")
        if self.reader is None:
            reader = MariaDB(database=self.db.database, user=self.db.user, password=self.db.password)
            self._closers.append(reader.stop)
            reader.initialise()
            reader.read_only = True
            self.reader = reader.start()
        relay = Relay(alias, self.db.port, self.reader.port)
        self._closers.append(relay.close)
        self.dns.set(sorted(self.w.db_instance_endpoints.items())[-1][1], "A", alias)

    def fail_jobs(self, queue: str, exception: str, ages: list[timedelta]) -> None:
        """Rows in failed_jobs, as Laravel writes them for jobs of ``queue`` that failed ``ages`` ago."""
        if self.db is None:
            return
        from pymysql.converters import escape_string

        rows = [f"INSERT INTO failed_jobs (uuid, connection, queue, payload, exception, failed_at) VALUES "
                f"('{uuid.uuid4()}', 'redis', '{escape_string(queue)}', '{{}}', '{escape_string(exception)}', "
                f"NOW() - INTERVAL {int(age.total_seconds())} SECOND)" for age in ages]
        self.db.execute_root([f"USE `{self.db.database}`", *rows])

    # -- CloudTrail: the changes the scenarios make, as AWS would have recorded them
    def _start_trail(self) -> None:
        """A LookupEvents stand-in the doctor reaches through AWS_ENDPOINT_URL_CLOUDTRAIL; from now on every
        catalogued write made through ``session`` is recorded in it (the world built before is not)."""
        self.trail = CloudTrailStandIn().start()
        self._closers.append(self.trail.stop)
        self._saved_env.setdefault("AWS_ENDPOINT_URL_CLOUDTRAIL", os.environ.get("AWS_ENDPOINT_URL_CLOUDTRAIL"))
        os.environ["AWS_ENDPOINT_URL_CLOUDTRAIL"] = self.trail.url
        self.recorder = Recorder(self.trail, frozenset(k.name for k in CATALOGUE))
        self.recorder.attach(self.session)

    @contextlib.contextmanager
    def changes_at(self, ago: timedelta | None) -> Iterator[None]:
        """Writes made inside are recorded in CloudTrail as made ``ago`` before now (None: when they are made)."""
        if self.recorder is None:
            yield
            return
        with self.recorder.at(ago):
            yield

    def record_change(self, name: str, service: str, request: dict[str, Any], ago: timedelta | None = None) -> None:
        """A change the simulation expresses otherwise (a deleted cluster, an IAM policy, a deployment), recorded
        in CloudTrail as the API call that made it (``request``: CloudTrail's camelCase requestParameters)."""
        if self.recorder is not None:
            self.recorder.record(name, service, request, ago=ago)

    def record_deploy(self, queue: str, image: str, ago: timedelta | None = None) -> None:
        """A release of ``image`` to ``queue``'s service as CloudTrail shows it: a new revision, then the update."""
        w = self.w
        service = w.services[queue]
        family = w.task_definitions[service].rsplit("/", 1)[-1].split(":", 1)[0]
        revision = int(w.task_definitions[service].rsplit(":", 1)[-1]) + 1
        self.record_change("RegisterTaskDefinition", "ecs", {"family": family, "containerDefinitions": [
            {"name": "app", "image": image, "essential": True}]}, ago=ago)
        self.record_change("UpdateService", "ecs", {"cluster": w.spec.cluster, "service": service,
                                                    "taskDefinition": f"{family}:{revision}"}, ago=ago)

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
            **(sim_controller.config(self.controller, self.sentry) if self.controller else {}),
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
