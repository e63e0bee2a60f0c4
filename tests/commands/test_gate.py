"""`ame-doctor gate` end to end from the CLI: moto HTTP server + a real redis-server + a test DNS server.

Each test builds the three-service world, seeds Redis with Laravel-shaped queue keys, and runs the gate as
CI would, asserting the decision, each rule's verdict and the exit code (0 allow, 1 deny, 2 usage).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

PREFIX = "propertyfeedtemplate_database_"
pytestmark = pytest.mark.slow


def _job(queue: str, n: int, attempts: int = 0) -> str:
    return json.dumps({"uuid": f"00000000-0000-0000-0000-{n:012d}", "displayName": "App\\Jobs\\Resize",
                       "job": "Illuminate\\Queue\\CallQueuedHandler@call", "maxTries": 3, "timeout": 60,
                       "data": {"commandName": "App\\Jobs\\Resize", "command": "O:0:{}"}, "id": f"job{n}",
                       "attempts": attempts, "createdAt": int(time.time()) - 30})


@pytest.fixture
def gate_world(moto_endpoint: str, redis_clean: Any, dns_server: Any, tmp_path: Path) -> dict[str, Any]:
    import boto3

    from doctor.sim.world import WorldSpec, build_world

    w = build_world(boto3.Session(region_name="eu-west-1"), WorldSpec(redis_port=redis_clean.port))
    dns_server.set(w.redis_host, "A", "127.0.0.1")
    config = tmp_path / "ame-doctor.toml"
    config.write_text(f'[aws]\nregion = "eu-west-1"\n[dns]\nnameservers = ["{dns_server.nameserver}"]\n'
                      '[exec]\ntransport = "off"\n', encoding="utf-8")
    return {"world": w, "redis": redis_clean.client(), "config": str(config), "tmp": tmp_path}


def gate(cli: Any, gw: dict[str, Any], *args: str) -> tuple[int, dict[str, Any], str]:
    res = cli("gate", "--config", gw["config"], "--format", "json", *args)
    if res.returncode == 2:
        return 2, {}, res.stderr
    assert res.returncode in (0, 1), res.stderr
    return res.returncode, json.loads(res.stdout), res.stderr


def verdicts(decision: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["verdict"] for r in decision["rules"]}


def test_widen_image_allowed_prints_the_command(cli: Any, gate_world: dict[str, Any]) -> None:
    gate_world["redis"].rpush(f"{PREFIX}queues:image", *[_job("image", n) for n in range(5)])
    code, d, err = gate(cli, gate_world, "--scale", "image=2", "--soak-minutes", "0")
    assert code == 0 and d["allowed"], (verdicts(d), err)
    assert d["schema_version"] == 2
    assert [(c["kind"], c["current"], c["requested"]) for c in d["changes"]] == [("widen", 1, 2)]
    assert d["commands"] == ["aws ecs update-service --cluster propertyfeedtemplate-production "
                             "--service propertyfeedtemplate-image --desired-count 2"]


def test_recent_deployment_inside_the_soak_window_denies(cli: Any, gate_world: dict[str, Any]) -> None:
    import boto3

    w = gate_world["world"]  # the world's deployments are a day old: roll sync out again now
    boto3.Session(region_name="eu-west-1").client("ecs").update_service(
        cluster=w.spec.cluster, service=w.services["sync"], forceNewDeployment=True)
    code, d, _ = gate(cli, gate_world, "--scale", "image=2")
    assert code == 1 and verdicts(d)["nothing-in-flight"] == "fail" and d["commands"] == []


def test_scale_to_zero_with_work_left_denies(cli: Any, gate_world: dict[str, Any]) -> None:
    gate_world["redis"].zadd(f"{PREFIX}queues:bulk:delayed", {_job("bulk", 1): time.time() + 600})
    code, d, _ = gate(cli, gate_world, "--scale", "bulk=0", "--soak-minutes", "0")
    assert code == 1 and verdicts(d)["drain-before-zero"] == "fail"
    assert [c["kind"] for c in d["changes"]] == ["drain"]
    code, d, _ = gate(cli, gate_world, "--scale", "sync=0", "--soak-minutes", "0")
    assert code == 0 and verdicts(d)["drain-before-zero"] == "pass"


def test_failing_queue_is_not_widened_and_blocks_lower_priorities(cli: Any, gate_world: dict[str, Any]) -> None:
    r = gate_world["redis"]
    now = time.time()
    r.rpush(f"{PREFIX}queues:image", *[_job("image", n, attempts=2) for n in range(10)])
    r.zadd(f"{PREFIX}queues:image:delayed", {_job("image", 100 + n, attempts=2): now + 30 for n in range(10)})
    code, d, _ = gate(cli, gate_world, "--scale", "image=2", "--soak-minutes", "0")
    v = verdicts(d)
    assert code == 1 and v["never-widen-failing"] == "fail", d["rules"]
    rule = next(x for x in d["rules"] if x["id"] == "never-widen-failing")
    assert "queue.state" in rule["evidence"]["failing_checks"]
    code, d, _ = gate(cli, gate_world, "--scale", "sync=2", "--override-range", "--reason", "cutover drill",
                      "--soak-minutes", "0")
    v = verdicts(d)
    assert code == 1 and v["priority"] == "fail" and v["scale-range"] == "overridden"
    assert d["override_reason"] == "cutover drill"


def test_two_queues_at_once_denied(cli: Any, gate_world: dict[str, Any]) -> None:
    code, d, _ = gate(cli, gate_world, "--scale", "image=2", "--scale", "bulk=1", "--soak-minutes", "0")
    assert code == 1 and verdicts(d)["one-queue-at-a-time"] == "fail"


def test_beyond_range_without_override_denied(cli: Any, gate_world: dict[str, Any]) -> None:
    code, d, _ = gate(cli, gate_world, "--scale", "image=5", "--soak-minutes", "0")
    assert code == 1 and verdicts(d)["scale-range"] == "fail"


@pytest.mark.parametrize("args, words", [
    (["--scale", "default=1"], "'default' stays on the app hosts"),
    (["--scale", "image"], "QUEUE=COUNT"),
    (["--scale", "image=3", "--override-range"], "--reason"),
    ([], "nothing to decide"),
])
def test_usage_errors_exit_2(cli: Any, gate_world: dict[str, Any], args: list[str], words: str) -> None:
    code, _, err = gate(cli, gate_world, *args)
    assert code == 2 and words in err and "Traceback" not in err


def test_release_host_consumers_and_outputs(cli: Any, gate_world: dict[str, Any]) -> None:
    out_json = gate_world["tmp"] / "gate.json"
    out_xml = gate_world["tmp"] / "gate.xml"
    res = cli("gate", "--config", gate_world["config"], "--release-host-consumers", "image", "--soak-minutes", "0",
              "--output", f"json={out_json}", "--output", f"junit={out_xml}")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ALLOW" in res.stdout and "host consumers" in res.stdout
    d = json.loads(out_json.read_text())
    assert d["allowed"] and verdicts(d)["release-backlog-draining"] == "pass"
    import xml.etree.ElementTree as ET

    suite = ET.parse(out_xml).getroot()
    assert suite.get("tests") == str(len(d["rules"])) and suite.get("failures") == "0"


def test_gate_refuses_when_aws_cannot_be_reached(cli: Any, refused_port: int, tmp_path: Path) -> None:
    """No data is never 'all services settled': exit 3, one refusal rule, no command to paste."""
    res = cli("gate", "--scale", "image=1", "--soak-minutes", "0", "--format", "json", "--output",
              f"json={tmp_path / 'gate.json'}", env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{refused_port}"},
              timeout=75)
    assert res.returncode == 3, res.stderr
    assert "ame-doctor: gate refused: no data to decide on: AWS endpoint unreachable: Could not connect" in res.stderr
    d = json.loads(res.stdout)
    assert d["allowed"] is False and d["commands"] == []
    assert [(r["id"], r["verdict"]) for r in d["rules"]] == [("data-available", "fail")]
    assert json.loads((tmp_path / "gate.json").read_text()) == d


def test_gate_refuses_quickly_when_aws_never_answers(cli: Any) -> None:
    """An endpoint that accepts and never answers: the early calls decide (exit 3); the gate does not then
    wait on the checks' stuck calls to read its views (that took ~100 s). 75 s is a hang guard, not a timing."""
    from support.netfaults import SilentServer

    with SilentServer() as silent:
        res = cli("gate", "--scale", "image=1", "--format", "json", env={"AWS_ENDPOINT_URL": silent.url}, timeout=75)
    assert res.returncode == 3, res.stderr
    assert "gate refused: no data to decide on: AWS endpoint unreachable: Read timeout" in res.stderr
    assert json.loads(res.stdout)["allowed"] is False


# --- waking is not widening: the simulated production (moto, real Redis and MariaDB, DNS, the local probe) ------
def _drained_image(p: Any) -> None:
    """image was drained to 0 forty minutes ago while the web tier kept pushing: 800 ready jobs, 12 reservations of
    its killed last worker expired, 6 jobs it had released (attempts > 0) overdue in delayed; sync and bulk run at
    1/1 with a few jobs in flight."""
    from doctor.sim.scenarios import _job

    r = p.redis.client(0)
    now = time.time()
    r.zadd(f"{PREFIX}queues:image:reserved", {_job("image", n, attempts=1): now - 2400 - n for n in range(12)})
    r.zadd(f"{PREFIX}queues:image:delayed", {_job("image", 50 + n, attempts=1 + n % 2): now - 2000 - 60 * n
                                             for n in range(6)})
    r.rpush(f"{PREFIX}queues:image", *[_job("image", 1000 + n) for n in range(800)])
    for q in ("sync", "bulk"):
        r.rpush(f"{PREFIX}queues:{q}", *[_job(q, 5000 + n) for n in range(3)])
    w = p.w
    service = w.services["image"]
    p.session.client("ecs").update_service(cluster=w.spec.cluster, service=service, desiredCount=0)
    for arn in w.tasks[service]:
        p.stop_task(arn, "Scaling activity initiated by (deployment ecs-svc/1)", "ServiceSchedulerInitiated", 0,
                    ago=timedelta(minutes=40))


def _drained_image_on_a_new_sg(p: Any) -> None:
    """The same, after image was moved to its own new security group (three hours ago) that the Redis SG does not
    admit; sync and bulk keep the shared worker SG, which the Redis SG does admit."""
    from doctor.sim.world import backdate_deployments

    ec2 = p.session.client("ec2")
    w = p.w
    new = ec2.create_security_group(GroupName="ame-image", Description="image workers", VpcId=w.vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=w.aurora_sg, IpPermissions=[{  # Aurora was granted, Redis forgotten
        "IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "UserIdGroupPairs": [{"GroupId": new}]}])
    p.session.client("ecs").update_service(cluster=w.spec.cluster, service=w.services["image"], networkConfiguration={
        "awsvpcConfiguration": {"subnets": w.worker_subnets, "securityGroups": [new], "assignPublicIp": "DISABLED"}})
    backdate_deployments(w, "123456789012", timedelta(hours=3))
    _drained_image(p)


def sim_gate(world: Any, tmp_path: Path, capsys: Any, *args: str, transport: str | None = None) -> tuple[int, dict]:
    """``ame-doctor gate ... --format json`` in-process against a started simulated production."""
    import argparse

    from doctor.commands import gate as gate_cmd

    config = world.write_config()
    if transport:
        config.write_text(config.read_text().replace('transport = "local"', f'transport = "{transport}"'))
    parser = argparse.ArgumentParser()
    gate_cmd.register(parser)
    argv = ["--config", str(config), "--format", "json", *sum((["--skip", c] for c in world.skip), []), *args]
    capsys.readouterr()
    code = gate_cmd.main(parser.parse_args(argv), ["gate", *argv])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def drained(redis_clean: Any, mariadb: Any, tmp_path: Path) -> Any:
    from doctor.sim.scenarios import Scenario, start

    platform = start(Scenario("drained-image", _drained_image), workdir=tmp_path / "sim", redis=redis_clean, db=mariadb)
    yield platform
    platform.stop()


def test_waking_a_drained_queue_is_allowed(drained: Any, tmp_path: Path, capsys: Any) -> None:
    """Issue 18's world: the backlog, the killed worker's expired reservations and its released jobs are what being
    at zero looks like — nobody consumes the queue — and waking it to its baseline is the remedy."""
    code, d = sim_gate(drained, tmp_path, capsys, "--scale", "image=1")
    rules = {r["id"]: r for r in d["rules"]}
    assert code == 0 and d["allowed"], {k: (r["verdict"], r["detail"]) for k, r in rules.items()}
    assert [(c["kind"], c["current"], c["requested"], c["baseline"]) for c in d["changes"]] == [("wake", 0, 1, 1)]
    assert "never-widen-failing" not in rules and "priority" not in rules
    wake = rules["wake-new-task-would-work"]
    assert wake["verdict"] == "pass" and "waking remedies queue-not-draining/workers-not-consuming" in wake["detail"]
    assert wake["evidence"]["blocking_root_causes"] == []
    assert d["commands"] == ["aws ecs update-service --cluster propertyfeedtemplate-production "
                             "--service propertyfeedtemplate-image --desired-count 1"]
    # widening it from 0 straight to 2 keeps every rule: refused, wake first
    code, d = sim_gate(drained, tmp_path, capsys, "--scale", "image=2")
    rules = {r["id"]: r for r in d["rules"]}
    assert code == 1 and [c["kind"] for c in d["changes"]] == ["widen"]
    assert rules["never-widen-failing"]["verdict"] == "fail" and rules["wake-first"]["verdict"] == "fail"
    assert "queue-not-draining/workers-not-consuming (confirmed)" in rules["never-widen-failing"]["detail"]


def test_the_diagnosis_at_zero_is_nobody_consuming_not_jobs_failing(drained: Any) -> None:
    from support.demo import run_platform

    roots = run_platform(drained).diagnosis.root_causes
    assert [(r.cause, r.scope.queues) for r in roots] == [("workers-not-consuming", ["image"])]
    assert [e.cause for e in roots[0].explains] == ["jobs-failing-and-requeueing"]


def test_waking_is_refused_when_the_woken_task_would_fail(redis_clean: Any, mariadb: Any, tmp_path: Path,
                                                           capsys: Any) -> None:
    """Only image's new SG lacks Redis ingress: a task woken now could not reach Redis. The gate refuses, naming the
    root cause and its first step (sg.ingress's fix keeps the shared SG's rule: tests/checks/test_sg_ingress.py)."""
    from doctor.sim.scenarios import Scenario, start

    p = start(Scenario("drained-image-new-sg", _drained_image_on_a_new_sg), workdir=tmp_path / "sim",
              redis=redis_clean, db=mariadb)
    try:
        # the local probe cannot honour security groups: no task vantage, as with ECS Exec and image at 0
        code, d = sim_gate(p, tmp_path, capsys, "--scale", "image=1", transport="off")
    finally:
        p.stop()
    rules = {r["id"]: r for r in d["rules"]}
    wake = rules["wake-new-task-would-work"]
    assert code == 1 and not d["allowed"] and d["commands"] == [] and wake["verdict"] == "fail", wake
    assert wake["detail"].startswith("a new image task would fail: jobs-fail-immediately/missing-redis-ingress "
                                     "(confirmed, on image)"), wake["detail"]
    assert [b["cause"] for b in wake["evidence"]["blocking_root_causes"]] == ["jobs-fail-immediately/missing-redis-ingress"]


def test_demo_then_gate_on_the_same_world_wakes_the_drained_queue(cli: Any) -> None:
    """`ame-doctor demo workers-not-consuming` names the gate to run next; with --gate it decides it on the same
    simulated world: WAKE allowed, with the exact update-service command (the exit code is the gate's)."""
    res = cli("demo", "workers-not-consuming", timeout=240)
    assert ("ame-doctor demo: next: ame-doctor demo workers-not-consuming --gate bulk=1 decides waking it on this "
            "same simulated world") in res.stderr, res.stderr
    res = cli("demo", "workers-not-consuming", "--gate", "bulk=1", timeout=240)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr
    decision = res.stdout[res.stdout.index("ame-doctor gate — cluster"):]
    assert "  WAKE bulk 0 -> 1 (baseline 1, range 0..1)" in decision
    assert "ALLOW: wake bulk 0 -> 1\n  $ aws ecs update-service --cluster propertyfeedtemplate-production --service " \
           "propertyfeedtemplate-bulk --desired-count 1\n" in decision, decision
    bad = cli("demo", "workers-not-consuming", "--gate", "default=1")
    assert bad.returncode == 2 and "'default' stays on the app hosts" in bad.stderr and "Traceback" not in bad.stderr
