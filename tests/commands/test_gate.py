"""`ame-doctor gate` end to end from the CLI: moto HTTP server + a real redis-server + a test DNS server.

Each test builds the three-service world, seeds Redis with Laravel-shaped queue keys, and runs the gate as
CI would, asserting the decision, each rule's verdict and the exit code (0 allow, 1 deny, 2 usage).
"""

from __future__ import annotations

import json
import time
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
    assert d["schema_version"] == 1
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
