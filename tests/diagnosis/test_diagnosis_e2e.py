"""End-to-end diagnosis: moto + a real redis-server + a real MariaDB + a test DNS server, one fault at a time.

Each scenario injects exactly one fault into a healthy world, runs every registered check through the
engine (exec transport ``local``: the probe runs on this host, standing in for the task), and asserts
the right cause is at the top of its playbook and is the strictly top root cause of the run, explaining
exactly the expected consequences. A scenario whose checks are not registered in this build is skipped
naming the missing check. (The demo's own scenarios: tests/diagnosis/test_root_causes_e2e.py.)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from doctor.config import Config
from doctor.diagnosis import strength, top_causes
from doctor.model import CauseState, Report
from doctor.sim.servers import Blackhole
from doctor.sim.world import World, WorldSpec, build_world, put_log_lines

from support.ecs_helpers import stop_task

pytestmark = pytest.mark.slow

PREFIX = "propertyfeedtemplate_database_"  # Laravel's default: slug(APP_NAME, '_') . '_database_'
OLD_DB_HOST = "ame-aurora-old.cluster-c0ld0ld0ld.eu-west-1.rds.amazonaws.com"


@dataclass
class Live:
    session: Any
    world: World
    dns: Any
    redis: Any
    db: Any
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    exec_transport: str = "local"
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    @property
    def env_file(self) -> Path:
        return self.tmp / "production.env"

    def write_env(self) -> None:
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()), encoding="utf-8")

    def put_param(self, key: str, value: str, secure: bool = False) -> None:
        self.session.client("ssm").put_parameter(Name=self.world.param(key), Value=value, Overwrite=True,
                                                 Type="SecureString" if secure else "String")

    def config(self) -> Config:
        return Config.model_validate({
            "aws": {"region": "eu-west-1"},
            "dns": {"nameservers": [self.dns.nameserver]},
            "env": {"file": str(self.env_file)},
            "exec": {"transport": self.exec_transport, "app_root": str(self.tmp / "app"), "timeout": 10},
            "run": {"timeout": 90, "check_timeout": 45},
        })

    def run(self) -> Report:
        from doctor.engine import Engine
        from doctor.registry import all_checks

        self.write_env()
        return asyncio.run(Engine(self.config(), all_checks()).run())


@pytest.fixture
def live(moto_session: Any, redis_clean: Any, mariadb: Any, dns_server: Any, tmp_path: Path) -> Iterator[Live]:
    w = build_world(moto_session, WorldSpec(redis_port=redis_clean.port, db_port=mariadb.port))
    # names resolve through the test DNS server, like the VPC resolver would
    dns_server.set(w.redis_host, "A", "127.0.0.1")
    instances = sorted(w.db_instance_endpoints.items())
    dns_server.set(w.db_writer_endpoint, "CNAME", instances[0][1])
    dns_server.set(w.db_reader_endpoint, "CNAME", instances[-1][1])
    for _, endpoint in instances:
        dns_server.set(endpoint, "A", "127.0.0.1")
    # the worker image's Laravel runtime directories (the local probe's app root)
    app = tmp_path / "app"
    for d in ("storage/framework/cache/data", "storage/framework/sessions", "storage/framework/views",
              "storage/logs", "bootstrap/cache"):
        (app / d).mkdir(parents=True, exist_ok=True)
    live = Live(session=moto_session, world=w, dns=dns_server, redis=redis_clean, db=mariadb, tmp=tmp_path)
    # the web tier's .env holds the same values as SSM (moto pages by 10)
    ssm = moto_session.client("ssm")
    token = None
    while True:
        kw: dict[str, str] = {"NextToken": token} if token else {}
        resp = ssm.get_parameters_by_path(Path=w.spec.ssm_path, Recursive=True, WithDecryption=True, **kw)
        for p in resp["Parameters"]:
            live.env[p["Name"].rsplit("/", 1)[-1]] = p["Value"]
        token = resp.get("NextToken")
        if not token:
            break
    yield live
    for fn in live.cleanup:
        fn()


def _job(queue: str, n: int) -> str:
    return json.dumps({"uuid": f"00000000-0000-0000-0000-{n:012d}", "displayName": "App\\Jobs\\Resize",
                       "job": "Illuminate\\Queue\\CallQueuedHandler@call", "maxTries": 3, "timeout": 60,
                       "data": {"commandName": "App\\Jobs\\Resize", "command": "O:0:{}"},
                       "id": f"job{n}", "attempts": 1, "queue": queue})


# --- the faults -----------------------------------------------------------------------------
def stale_db_host(live: Live) -> None:
    """DB_HOST in SSM and in the web tier's .env names a deleted cluster (its name no longer resolves)."""
    live.put_param("DB_HOST", OLD_DB_HOST)
    live.env["DB_HOST"] = OLD_DB_HOST


def redis_old_ip_ingress(live: Live) -> None:
    """The Redis SG admits only the old worker hosts' /32s, not the worker SG (doctor outside the VPC)."""
    ec2 = live.session.client("ec2")
    w = live.world
    ec2.revoke_security_group_ingress(GroupId=w.redis_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379,
        "UserIdGroupPairs": [{"GroupId": w.worker_sg, "Description": "ame workers"}]}])
    ec2.authorize_security_group_ingress(GroupId=w.redis_sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379,
        "IpRanges": [{"CidrIp": "172.31.40.11/32", "Description": "old worker 1"},
                     {"CidrIp": "172.31.40.12/32", "Description": "old worker 2"}]}])
    # on real AWS the task's connects would time out; loopback ignores SGs, so the in-task probe is
    # not used here (the on-call view from outside the VPC: SGs and DNS, host vantage only)
    live.exec_transport = "off"


def runtime_dirs_missing(live: Live) -> None:
    """The image worker's startup log says the cache path is missing."""
    service = live.world.services["image"]
    task_id = live.world.tasks[service][0].rsplit("/", 1)[-1]
    put_log_lines(live.session.client("logs"), live.world.log_groups[service], f"ecs/app/{task_id}", [
        "In Compiler.php line 67:",
        "  Please provide a valid cache path.",
    ])


def other_redis_prefix(live: Live) -> None:
    """Workers pop under another Redis prefix than the web tier pushes to."""
    live.put_param("REDIS_PREFIX", "ame_workers_")
    r = live.redis.client(0)
    for n in range(5):
        r.rpush(f"{PREFIX}queues:image", _job("image", n))




def db_path_blocked(live: Live) -> None:
    """DB_HOST resolves fine, but nothing gets through to the database port: the writer endpoint's address
    drops the connection (on AWS: an SG/NACL/route; here a listener that never accepts on 127.0.0.2)."""
    ip = "127.0.0.2"
    live.cleanup.append(Blackhole(ip, live.db.port).close)
    for _, endpoint in sorted(live.world.db_instance_endpoints.items()):
        live.dns.set(endpoint, "A", ip)


def _stop(live: Live, arn: str, reason: str, stop_code: str, exit_code: int | None) -> None:
    """Stop a task as real ECS reports it, two minutes ago (the shared helper in tests/support/ecs_helpers.py)."""
    stop_task(live.session, live.world, arn, reason=reason, stop_code=stop_code, exit_code=exit_code, minutes_ago=2)


def secrets_unresolvable(live: Live) -> None:
    """bulk tasks fail to start: the execution role cannot pull their secrets."""
    ecs = live.session.client("ecs")
    w = live.world
    service = w.services["bulk"]
    netcfg = {"awsvpcConfiguration": {"subnets": list(w.worker_subnets), "securityGroups": [w.worker_sg]}}
    for _ in range(2):
        arn = ecs.run_task(cluster=w.spec.cluster, taskDefinition=w.task_definitions[service], launchType="FARGATE",
                           group=f"service:{service}", networkConfiguration=netcfg,
                           startedBy="ecs-svc/1234567890")["tasks"][0]["taskArn"]
        _stop(live, arn, "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
              "retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
              "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/ame-ecs-execution/x is not "
              "authorized to perform: ssm:GetParameters", "TaskFailedToStart", None)


def expired_reservations(live: Live) -> None:
    """bulk jobs were reserved long ago and nothing has popped the queue since (no running consumer)."""
    r = live.redis.client(0)
    now = time.time()
    for n in range(3):
        r.zadd(f"{PREFIX}queues:bulk:reserved", {_job("bulk", n): now - 3600 + n})
        r.rpush(f"{PREFIX}queues:bulk", _job("bulk", 10 + n))
    ecs = live.session.client("ecs")
    w = live.world
    service = w.services["bulk"]
    ecs.update_service(cluster=w.spec.cluster, service=service, desiredCount=0)
    for arn in w.tasks[service]:
        _stop(live, arn, "Scaling activity initiated by (deployment ecs-svc/1)", "ServiceSchedulerInitiated", 0)


@dataclass
class Scenario:
    name: str
    inject: Callable[[Live], None]
    playbook: str
    cause: str
    needs: tuple[str, ...]
    explains: tuple[str, ...] = ()  # the causes the root cause must list as its consequences, exactly
    steps: Callable[[World], list[str]] = lambda w: []  # text the filled next steps must contain


SCENARIOS = [
    Scenario("stale-db-host", stale_db_host, "jobs-fail-immediately", "bad-db-host", ("dns.resolve",),
             steps=lambda w: [f"aws ssm get-parameter --name {w.param('DB_HOST')}",
                              f"--db-cluster-identifier {w.db_cluster} ",
                              f"--name {w.param('DB_HOST')} --type String --overwrite --value {w.db_writer_endpoint}",
                              f"--cluster {w.spec.cluster} --service {w.services['sync']} --force-new-deployment"]),
    Scenario("redis-ingress-old-ips", redis_old_ip_ingress, "jobs-fail-immediately", "missing-redis-ingress",
             ("sg.ingress",), explains=("redis-path-unhealthy",),
             steps=lambda w: [f"aws ec2 authorize-security-group-ingress --group-id {w.redis_sg} --protocol tcp "
                              f"--port 6379 --source-group {w.worker_sg}"]),
    Scenario("runtime-dirs-missing", runtime_dirs_missing, "no-steady-state", "missing-runtime-dirs",
             ("ecs.startup",),
             steps=lambda w: [f"--log-group-name {w.log_groups[w.services['image']]} ",
                              f"--service {w.services['image']} --force-new-deployment"]),
    Scenario("other-redis-prefix", other_redis_prefix, "queue-not-draining", "wrong-redis", ("queue.state",),
             steps=lambda w: [f"--path {w.spec.ssm_path} "]),
    Scenario("db-path-blocked", db_path_blocked, "timeout-symptoms", "db-path-blocked",
             ("reach.aurora", "dns.resolve"),
             steps=lambda w: [f"--group-ids {w.aurora_sg} {w.worker_sg}"]),
    Scenario("secrets-unresolvable", secrets_unresolvable, "no-steady-state", "bad-bootstrap", ("ecs.startup",),
             steps=lambda w: [f"--services {w.services['bulk']} "]),
    Scenario("expired-reservations", expired_reservations, "queue-not-draining", "workers-not-consuming",
             ("queue.state",), steps=lambda w: ["queue:work redis --queue=bulk"]),
]


def _require(ids: tuple[str, ...]) -> None:
    from doctor.registry import all_checks

    have = {c.id for c in all_checks()}
    missing = [i for i in ids if i not in have]
    if missing:
        pytest.skip(f"check {', '.join(missing)} is not registered in this build")


def _explain(report: Report) -> str:
    lines = []
    for chk in report.checks:
        lines.append(f"{chk.id}: {chk.status.value} {chk.summary}")
        lines.extend(f"    {f.uid} {f.signals} {f.evidence.get('vantage', '')}" for f in chk.findings)
    for r in report.diagnosis.root_causes:
        lines.append(f"ROOT {r.playbook}/{r.cause}: {r.state.value} {r.score} explains {[e.cause for e in r.explains]}")
    for p, c in top_causes(report.playbooks)[:8]:
        lines.append(f"{p.id}/{c.id}: {c.state.value} {c.score} {c.reason}")
    return "\n".join(lines)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_one_fault_is_diagnosed_at_the_top(live: Live, scenario: Scenario) -> None:
    _require(scenario.needs)
    scenario.inject(live)
    report = live.run()
    why = _explain(report)
    if os.environ.get("E2E_EXPLAIN"):
        from doctor.render.text import render

        print(f"\n== {scenario.name}\n{why}\n{render(report)}")
    book = next(p for p in report.playbooks if p.id == scenario.playbook)
    top = book.causes[0]
    assert top.id == scenario.cause, why
    assert top.state in (CauseState.confirmed, CauseState.likely), why
    assert top.evidence and top.next_steps, why
    assert scenario.cause in book.verdict, book.verdict
    roots = report.diagnosis.root_causes
    assert roots and (roots[0].playbook, roots[0].cause) == (scenario.playbook, scenario.cause), why
    root = roots[0]
    # strictly on top: any other root cause is weaker, and nothing the fault does not explain is confirmed
    assert all(strength(r.state, r.score) > strength(root.state, root.score) for r in roots[1:]), why
    assert not [r.cause for r in roots[1:] if r.state == CauseState.confirmed], why
    assert sorted(e.cause for e in root.explains) == sorted(scenario.explains), why
    steps = "\n".join(root.next_steps)
    assert not re.search(r"\{[a-z_]+\}", steps), steps
    for text in scenario.steps(live.world):
        assert text in steps, steps


def test_healthy_world_nothing_above_possible(live: Live) -> None:
    _require(("ssm.values",))
    report = live.run()
    why = _explain(report)
    assert report.diagnosis.root_causes == [], why
    above = [(p.id, c.id, c.state.value) for p in report.playbooks for c in p.causes
             if c.state in (CauseState.confirmed, CauseState.likely)]
    assert not above, why
    assert any(c.state == CauseState.ruled_out for p in report.playbooks for c in p.causes), why
