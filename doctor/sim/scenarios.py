"""The demo's fault scenarios: each injects one fault into the simulated production
(:class:`doctor.sim.platform.SimPlatform`) the way it happens in production — a security-group rule
revoked, a parameter rotated, a task stopped with the reason ECS gives, packets dropped on the path —
and the real engine and checks then find it. Nothing is a canned result.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from doctor.diagnosis import strength
from doctor.model import CauseState
from doctor.sim.cloudtrail import CHANGED, changed
from doctor.sim.integration_faults import scaler_not_waking, sentry_burst
from doctor.sim.platform import OLD_DB_HOST, PREFIX, ScenarioUnavailable, SimPlatform


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


@changed(minutes=55)
def bad_db_host(p: SimPlatform) -> None:
    """DB_HOST (SSM and the web tier's .env) names a cluster that was deleted; its name no longer resolves."""
    p.put_param("DB_HOST", OLD_DB_HOST, ago=timedelta(days=3))
    p.env["DB_HOST"] = OLD_DB_HOST
    p.record_change("DeleteDBCluster", "rds", {"dBClusterIdentifier": OLD_DB_HOST.split(".", 1)[0],
                                               "skipFinalSnapshot": False})


def _revoke_worker_rule(ec2: Any, group: str, worker_sg: str) -> None:
    """Remove ``group``'s ingress rule that references the worker SG (by rule id, as the console does)."""
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    ids = [r["SecurityGroupRuleId"] for r in rules if not r.get("IsEgress")
           and r.get("ReferencedGroupInfo", {}).get("GroupId") == worker_sg]
    if not ids:
        raise RuntimeError(f"no ingress rule from {worker_sg} on {group}")
    ec2.revoke_security_group_ingress(GroupId=group, SecurityGroupRuleIds=ids)


@changed(minutes=35)
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


@changed(minutes=41)
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


@changed(minutes=10)
def stale_ssm_values(p: SimPlatform) -> None:
    """DB_PASSWORD was rotated (SSM and the database) ten minutes ago; the workers started an hour ago."""
    new = "r0tated-db-password-2026"
    p.put_param("DB_PASSWORD", new, secure=True)
    p.env["DB_PASSWORD"] = new
    if p.db is not None:
        p.db.execute_root([f"ALTER USER '{p.db.user}'@'%' IDENTIFIED BY '{new}'",
                           f"ALTER USER '{p.db.user}'@'localhost' IDENTIFIED BY '{new}'"])
        p.db.password = new


@changed(minutes=15)
def bad_container_image(p: SimPlatform) -> None:
    """The image service was deployed with a tag that does not exist: every task fails to pull it."""
    image = p.w.spec.image.replace(":prod", ":prod-2026-11-27")
    p.record_deploy("image", image)
    p.start_failing_tasks("image", 3, f"CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                          f"failed to resolve ref {image}: {image}: not found", "TaskFailedToStart", None)


@changed(minutes=15)
def missing_runtime_dirs(p: SimPlatform) -> None:
    """The worker image ships without storage/framework/views: Laravel cannot compile views at boot."""
    import shutil

    shutil.rmtree(p.workdir / "app" / "storage" / "framework" / "views")
    p.record_deploy("image", p.w.spec.image.replace(":prod", ":prod-2026-11-28"))
    p.start_failing_tasks("image", 3, "Essential container in task exited", "EssentialContainerExited", 1,
                          log_lines=["In Compiler.php line 67:", "  Please provide a valid cache path."])


@changed(minutes=15)
def bad_bootstrap(p: SimPlatform) -> None:
    """bulk tasks cannot start: the execution role lost ssm:GetParameters, so the secrets cannot be injected."""
    p.record_change("DeleteRolePolicy", "iam", {"roleName": "ame-ecs-execution", "policyName": "ssm-parameters-read"})
    p.start_failing_tasks("bulk", 3, "ResourceInitializationError: unable to pull secrets or registry auth: execution "
                          "resource retrieval failed: unable to retrieve secrets from ssm: service call has been "
                          "retried 1 time(s): AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/"
                          "ame-ecs-execution/x is not authorized to perform: ssm:GetParameters",
                          "TaskFailedToStart", None)


@changed(minutes=65)
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


@changed(minutes=45)
def jobs_failing_and_requeueing(p: SimPlatform) -> None:
    """image jobs throw on every attempt and are released back with a delay; failures pile up in failed_jobs."""
    p.record_deploy("image", p.w.spec.image.replace(":prod", ":prod-2026-11-29"))
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
    p.put_param("REDIS_PREFIX", "ame_workers_", ago=timedelta(hours=3))
    r = p.redis.client(0)
    for n in range(25):
        r.rpush(f"{PREFIX}queues:image", _job("image", 400 + n))


@changed(minutes=20)
def db_path_blocked(p: SimPlatform) -> None:
    """DB_HOST resolves and the SG is right, but a NACL change drops 3306 between the workers and Aurora."""
    ec2 = p.session.client("ec2")
    acl = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": p.w.worker_subnets}])
    data = ec2.describe_subnets(SubnetIds=[p.w.data_subnet])["Subnets"][0]["CidrBlock"]
    ec2.create_network_acl_entry(NetworkAclId=acl["NetworkAcls"][0]["NetworkAclId"], RuleNumber=90, Protocol="6",
                                 RuleAction="deny", Egress=True, CidrBlock=data, PortRange={"From": 3306, "To": 3306})
    for endpoint in p.w.db_instance_endpoints.values():
        p.drop_path(endpoint, "127.0.0.2", p.db.port)


@changed(minutes=20)
def redis_path_unhealthy(p: SimPlatform) -> None:
    """REDIS_HOST resolves and the SG is right, but connections to the primary hang (node failing over)."""
    p.record_change("TestFailover", "elasticache", {"replicationGroupId": p.w.redis_group, "nodeGroupId": "0001"})
    p.drop_path(p.w.redis_host, "127.0.0.3", p.redis.port)


def _job_line(started: datetime, job: str, run_s: float, status: str = "DONE") -> str:
    """A ``queue:work`` output line as Laravel 9+ writes it when a job ends (started at ``started``, UTC)."""
    run = f"{run_s * 1000:.2f}ms" if run_s < 1 else " ".join(
        f"{n}{unit}" for n, unit in ((int(run_s // 60), "m"), (int(run_s % 60), "s")) if n)
    return f"  {started:%Y-%m-%d %H:%M:%S} {job} {'.' * max(1, 47 - len(job) - len(run))} {run} {status}"


def _error_line(at: datetime, message: str, exception: str) -> str:
    """An exception as Laravel's stderr channel writes it (LOG_CHANNEL=stderr)."""
    return (f"[{at:%Y-%m-%d %H:%M:%S}] production.ERROR: {message} {{\"exception\":\"[object] ({exception}(code: 0): "
            f"{message} at /var/www/html/vendor/laravel/framework/src/Illuminate/Database/Connection.php:829)\"}}")


def _failing_jobs(p: SimPlatform, queue: str, run_s: float, message: str, exception: str) -> None:
    """Every running task of ``queue`` logged jobs failing the same way over the last 20 minutes, and Redis holds
    them released back with attempts > 0 (Laravel's release on an exception with tries left)."""
    now = datetime.now(UTC)
    for arn in p.w.tasks[p.w.services[queue]]:
        events: list[tuple[timedelta, str]] = []
        started = now - timedelta(minutes=20)
        while started + timedelta(seconds=run_s) < now:
            ended = started + timedelta(seconds=run_s)
            events += [(now - ended, _error_line(ended, message, exception)),
                       (now - ended, _job_line(started, "App\\Jobs\\ResizeImage", run_s, "FAIL"))]
            started = ended + timedelta(seconds=3)
        p.log_events(queue, arn, events)
    r = p.redis.client(0)
    t = time.time()
    for n in range(6):
        r.zadd(f"{PREFIX}queues:{queue}:delayed", {_job(queue, 500 + n, attempts=1 + n % 2): t + 20 + 10 * n})
    for n in range(10):
        r.rpush(f"{PREFIX}queues:{queue}", _job(queue, 600 + n))


@changed(minutes=25)
def stale_db_host(p: SimPlatform) -> None:
    """DB_HOST, the same in SSM and the web tier's .env (no drift), still names the Aurora cluster replaced last
    week; the name still resolves, to an address where nothing answers: every job that touches the database times
    out and is released to retry."""
    p.put_param("DB_HOST", OLD_DB_HOST, ago=timedelta(days=7))
    p.env["DB_HOST"] = OLD_DB_HOST
    p.record_change("DeleteDBCluster", "rds", {"dBClusterIdentifier": OLD_DB_HOST.split(".", 1)[0],
                                               "skipFinalSnapshot": False})
    p.drop_path(OLD_DB_HOST, "127.0.0.4", int(p.ssm_values()["DB_PORT"]))
    _failing_jobs(p, "image", 60, "SQLSTATE[HY000] [2002] Connection timed out (Connection: mysql, SQL: select * "
                  "from `images` where `id` = 812 limit 1)", "Illuminate\\Database\\QueryException")


def db_host_reader(p: SimPlatform) -> None:
    """DB_HOST in SSM and the web tier's .env is the cluster's reader endpoint: connections work, every write fails
    with error 1290 (--read-only) and the jobs are released to retry."""
    reader = p.w.db_reader_endpoint
    p.put_param("DB_HOST", reader, ago=timedelta(minutes=90))
    p.env["DB_HOST"] = reader
    p.serve_reader()
    _failing_jobs(p, "image", 0.4, "SQLSTATE[HY000]: General error: 1290 The MySQL server is running with the "
                  "--read-only option so it cannot execute this statement (Connection: mysql, SQL: update `images` "
                  "set `resized_at` = now() where `id` = 812)", "Illuminate\\Database\\QueryException")


def long_jobs_outlive_retry_after(p: SimPlatform) -> None:
    """image workers run --timeout=600 while retry_after is 90: both tasks RUNNING and steady and logging 2-5 minute
    jobs, one reservation expired a minute ago (its job still running), failed_jobs filling with
    MaxAttemptsExceededException."""
    p.put_param("REDIS_QUEUE_RETRY_AFTER", "90", ago=timedelta(days=30))
    p.env["REDIS_QUEUE_RETRY_AFTER"] = "90"
    command = [w if not w.startswith("--timeout=") else "--timeout=600" for w in p.w.worker_command("image")]
    arns = p.redeploy("image", ago=timedelta(hours=3), command=command, count=2)
    now = datetime.now(UTC)
    runs = (150, 212, 96, 264, 181, 0.02, 133, 243, 118, 0.03, 199, 171)
    for i, arn in enumerate(arns):
        events: list[tuple[timedelta, str]] = []
        started = now - timedelta(minutes=40, seconds=70 * i)
        for n, run in enumerate(runs * 2):
            ended = started + timedelta(seconds=run)
            if ended > now - timedelta(seconds=20):
                break
            if run < 1:  # popped again after its reservation expired mid-run: out of tries at once
                events.append((now - ended, _error_line(
                    ended, "App\\Jobs\\ResizeImage has been attempted too many times.",
                    "Illuminate\\Queue\\MaxAttemptsExceededException")))
            events.append((now - ended, _job_line(started, "App\\Jobs\\ResizeImage", run,
                                                  "FAIL" if run < 1 else "DONE")))
            started = ended + timedelta(seconds=2 + n % 3)
        p.log_events("image", arn, events)
    r = p.redis.client(0)
    t = time.time()
    r.zadd(f"{PREFIX}queues:image:reserved", {_job("image", 700, attempts=1): t + 40,
                                               _job("image", 701, attempts=2): t - 60})
    for n in range(14):
        r.rpush(f"{PREFIX}queues:image", _job("image", 710 + n))
    p.fail_jobs("image", "Illuminate\\Queue\\MaxAttemptsExceededException: App\\Jobs\\ResizeImage has been "
                "attempted too many times. in /var/www/html/vendor/laravel/framework/src/Illuminate/Queue/"
                "MaxAttemptsExceededException.php:24", [timedelta(minutes=4 + 5 * n) for n in range(9)])


def resolved_history(p: SimPlatform) -> None:
    """An incident that is over: the image release shipped without storage/framework, its jobs failed 2-3 hours
    ago (failed_jobs) and its tasks crash-looped 45-55 minutes ago (stopped tasks, error lines, a service event);
    the fixed image was deployed 40 minutes ago and its task has been processing jobs since."""
    p.fail_jobs("image", "ErrorException: file_put_contents(/var/www/html/storage/framework/cache/data/7a/1f/7a1f): "
                "Failed to open stream: No such file or directory in /var/www/html/vendor/laravel/framework/src/"
                "Illuminate/Filesystem/Filesystem.php:204", [timedelta(minutes=125 + 7 * n) for n in range(8)])
    p.start_failing_tasks("image", 4, "Essential container in task exited", "EssentialContainerExited", 1,
                          log_lines=["In Compiler.php line 67:", "  Please provide a valid cache path."],
                          ago=timedelta(minutes=45))
    p.service_event("image", "(service {service}) is unable to consistently start tasks successfully. For more "
                    "information, see the Troubleshooting section of the Amazon ECS Developer Guide.",
                    ago=timedelta(minutes=48))
    arns = p.redeploy("image", ago=timedelta(minutes=40))
    p.service_event("image", "(service {service}) has reached a steady state.", ago=timedelta(minutes=36))
    now = datetime.now(UTC)
    events = [(timedelta(minutes=35 - 3 * n, seconds=-4.2),
               _job_line(now - timedelta(minutes=35 - 3 * n), "App\\Jobs\\ResizeImage", 4.2)) for n in range(11)]
    p.log_events("image", arns[0], events)
    healthy(p)


@dataclass(frozen=True)
class Scenario:
    name: str
    inject: Callable[[SimPlatform], None]
    playbook: str | None = None
    cause: str | None = None      # the root cause the diagnosis must put strictly on top (None: no root cause)
    explains: tuple[str, ...] = ()  # the cause ids that root cause must list as its consequences, exactly
    needs_db: bool = False

    @property
    def description(self) -> str:
        """The fault's docstring as one line (`demo --list`, the demo's progress line)."""
        return " ".join((self.inject.__doc__ or "").split())


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("healthy", healthy),
    Scenario("bad-db-host", bad_db_host, "jobs-fail-immediately", "bad-db-host"),
    Scenario("missing-aurora-ingress", missing_aurora_ingress, "jobs-fail-immediately", "missing-aurora-ingress",
             explains=("db-path-blocked",), needs_db=True),
    Scenario("missing-redis-ingress", missing_redis_ingress, "jobs-fail-immediately", "missing-redis-ingress",
             explains=("redis-path-unhealthy",)),
    Scenario("stale-ssm-values", stale_ssm_values, "jobs-fail-immediately", "stale-ssm-values"),
    Scenario("bad-container-image", bad_container_image, "no-steady-state", "bad-container-image",
             explains=("bad-bootstrap",)),
    Scenario("missing-runtime-dirs", missing_runtime_dirs, "no-steady-state", "missing-runtime-dirs",
             explains=("bad-bootstrap",)),
    Scenario("bad-bootstrap", bad_bootstrap, "no-steady-state", "bad-bootstrap"),
    Scenario("workers-not-consuming", workers_not_consuming, "queue-not-draining", "workers-not-consuming"),
    Scenario("jobs-failing-and-requeueing", jobs_failing_and_requeueing, "queue-not-draining",
             "jobs-failing-and-requeueing", needs_db=True),
    Scenario("wrong-redis", wrong_redis, "queue-not-draining", "wrong-redis"),
    Scenario("db-path-blocked", db_path_blocked, "timeout-symptoms", "db-path-blocked", needs_db=True),
    Scenario("redis-path-unhealthy", redis_path_unhealthy, "timeout-symptoms", "redis-path-unhealthy"),
    Scenario("stale-db-host", stale_db_host, "jobs-fail-immediately", "bad-db-host",
             explains=("db-path-blocked", "jobs-failing-and-requeueing"), needs_db=True),
    Scenario("db-host-reader", db_host_reader, "jobs-fail-immediately", "bad-db-host",
             explains=("jobs-failing-and-requeueing",), needs_db=True),
    Scenario("long-jobs-outlive-retry-after", long_jobs_outlive_retry_after, "queue-not-draining",
             "jobs-failing-and-requeueing", needs_db=True),
    Scenario("resolved-history", resolved_history, needs_db=True),
    Scenario("scaler-not-waking", scaler_not_waking, "queue-not-draining", "scaler-not-waking",
             explains=("workers-not-consuming",)),
    Scenario("sentry-burst", sentry_burst, "timeout-symptoms", "redis-path-unhealthy"),
]}


def get_scenario(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise KeyError(name)
    return SCENARIOS[name]


def start(scenario: Scenario, progress: Callable[[str], None] = lambda s: None,
          workdir: Path | None = None, redis: Any = None, db: Any = None, reader: Any = None) -> SimPlatform:
    """A running simulated production with ``scenario``'s fault injected (call ``.stop()`` after).
    ``redis``/``db``/``reader`` (a read-only MariaDB): already-running servers to use (not stopped afterwards)."""
    platform = SimPlatform(workdir=workdir) if workdir else SimPlatform()
    platform.redis, platform.db, platform.reader = redis, db, reader
    platform.start(progress)
    try:
        if scenario.needs_db and platform.db is None:
            raise ScenarioUnavailable(f"scenario {scenario.name} needs a MariaDB/MySQL server (install mariadb-server)")
        progress(f"injecting the fault: {scenario.name}")
        with platform.changes_at(CHANGED.get(scenario.inject)):
            scenario.inject(platform)
    except BaseException:
        platform.stop()
        raise
    return platform


def verdict(scenario: Scenario, report: Any) -> tuple[bool, str]:
    """Did the real checks diagnose the injected fault? Its cause must be the strictly top root cause (no other
    root cause ties with or outranks it) and explain exactly ``scenario.explains``; no fault, no root cause."""
    roots = report.diagnosis.root_causes
    if scenario.cause is None:
        return (not roots, "no root cause" if not roots else
                f"unexpected root cause: {', '.join(f'{r.cause} ({r.state.value} {r.score:.2f})' for r in roots)}")
    top = roots[0] if roots else None
    if top is None or (top.playbook, top.cause) != (scenario.playbook, scenario.cause):
        ours = next((c for p in report.playbooks if p.id == scenario.playbook for c in p.causes
                     if c.id == scenario.cause), None)
        found = f"{ours.state.value} {ours.score:.2f}" if ours else "absent"
        return False, (f"{top.cause} ({top.state.value} {top.score:.2f}) is the top root cause, "
                       f"{scenario.cause} is {found}" if top else f"no root cause; {scenario.cause} is {found}")
    if len(roots) > 1 and strength(roots[1].state, roots[1].score) <= strength(top.state, top.score):
        return False, f"{roots[1].cause} ({roots[1].state.value} {roots[1].score:.2f}) ties with {scenario.cause}"
    explains = sorted(e.cause for e in top.explains)
    line = f"root cause {top.cause} ({top.state.value} {top.score:.2f})"
    line += f", explains {', '.join(explains)}" if explains else ", explains nothing else"
    if explains != sorted(scenario.explains):
        return False, f"{line}; expected it to explain {', '.join(sorted(scenario.explains)) or 'nothing'}"
    runner = runner_up(report)
    return True, line + (f"; runner-up {runner[0]} ({runner[1].value} {runner[2]:.2f})" if runner else "")


def runner_up(report: Any) -> tuple[str, CauseState, float] | None:
    """The strongest supported cause after the top root cause (another root cause, or one it explains): the margin
    to watch."""
    roots = report.diagnosis.root_causes
    top = (roots[0].playbook, roots[0].cause) if roots else None
    others = [(c.id, c.state, c.score) for p in report.playbooks for c in p.causes
              if (p.id, c.id) != top and c.state in (CauseState.confirmed, CauseState.likely, CauseState.possible)]
    return min(others, key=lambda o: strength(o[1], o[2]), default=None)
