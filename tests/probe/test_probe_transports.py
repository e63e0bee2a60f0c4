"""Exec transports: ecs-exec (Stubber + stand-in session-manager-plugin), probe-task (moto), local, off."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from botocore.stub import Stubber

from doctor.aws import AwsSession, WriteRefused
from doctor.config import Config
from doctor.facts import Facts
from doctor.probe import PLUGIN_INSTALL_HINT, TransportUnavailable, probe_results, probe_spec
from doctor.probe.transports import EcsExecTransport, ProbeTaskTransport, session_for
from doctor.redact import Redactor
from doctor.sim.world import WorldSpec, build_world

from support.probe import FIXTURES, laravel_root, run_probe

SVC = "propertyfeedtemplate-sync"
ACCOUNT = "123456789012"


def _backend():
    from moto.ecs.models import ecs_backends

    return ecs_backends[ACCOUNT]["eu-west-1"]


def _backend_task(arn: str):
    for tasks in _backend().tasks.values():
        for t in tasks.values():
            if t.task_arn == arn:
                return t
    raise KeyError(arn)


def _facts(transport: str, tmp_path: Path, **exec_kw) -> Facts:
    cfg = Config(aws={"region": "eu-west-1"},
                 exec={"transport": transport, "timeout": 6, "app_root": str(laravel_root(tmp_path)), **exec_kw})
    return Facts(cfg, AwsSession("eu-west-1", transport=transport), Redactor(key=bytes(range(32))))


@pytest.fixture(scope="module")
def world(redis_server):
    """One moto world for this module (building one costs seconds); tests only add to it."""
    import boto3
    from moto import mock_aws

    from doctor.sim.world import pin_ecs_task_status

    with mock_aws():
        pin_ecs_task_status()
        yield build_world(boto3.Session(region_name="eu-west-1"), WorldSpec(redis_port=redis_server.port))


@pytest.fixture
def plugin_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{FIXTURES}{os.pathsep}{os.environ['PATH']}")


def _recorded_output(facts: Facts, redis_port: int, path: Path) -> Path:
    """What the probe prints inside a task, recorded from a real run of the same command."""
    spec = probe_spec(facts, "ecs-exec")
    r = run_probe(spec, {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_port)})
    path.write_text(r.raw_output)  # type: ignore[attr-defined]
    return path


def _session_response(task_arn: str) -> dict:
    return {"clusterArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/propertyfeedtemplate-production",
            "containerArn": "arn:aws:ecs:eu-west-1:123456789012:container/x", "containerName": "app",
            "interactive": True, "taskArn": task_arn,
            "session": {"sessionId": "ecs-execute-command-0abc", "streamUrl": "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/ecs-execute-command-0abc",
                        "tokenValue": "token-value"}}


def test_ecs_exec_drives_the_plugin_like_the_aws_cli(world, redis_server, plugin_on_path, tmp_path,
                                                     monkeypatch) -> None:
    facts = _facts("ecs-exec", tmp_path)
    task = facts.tasks(SVC)[0]
    _backend_task(task["taskArn"]).containers[0].runtime_id = "rt-0123456789"
    facts._memo.clear()  # re-read the task with its runtimeId
    task = facts.tasks(SVC)[0]
    facts.service_task_definition(SVC)
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    monkeypatch.setenv("FAKE_SMP_OUTPUT", str(_recorded_output(facts, redis_server.port, tmp_path / "rec.txt")))
    monkeypatch.setenv("FAKE_SMP_EXPECT_TARGET", f"ecs:propertyfeedtemplate-production_{task_id}_rt-0123456789")
    monkeypatch.setenv("FAKE_SMP_EXPECT_REGION", "eu-west-1")
    monkeypatch.setenv("FAKE_SMP_ARGS_FILE", str(tmp_path / "args.json"))
    ecs = facts.aws.client("ecs")
    spec = probe_spec(facts, "ecs-exec")
    with Stubber(ecs) as stub:
        stub.add_response("execute_command", _session_response(task["taskArn"]), expected_params={
            "cluster": "propertyfeedtemplate-production", "task": task["taskArn"], "container": "app",
            "interactive": True, "command": spec.exec_command()})
        res = EcsExecTransport().run(facts, SVC, spec)
        stub.assert_no_pending_responses()
    assert res.ok, res.reason
    assert res.exit_status == 0 and res.transport == "ecs-exec" and res.task == task["taskArn"]
    assert res.redis["reply"] == "PONG"
    args = json.loads((tmp_path / "args.json").read_text())
    assert args[2] == "StartSession" and args[5] == ecs.meta.endpoint_url
    assert json.loads(args[0])["sessionId"] == "ecs-execute-command-0abc"


def test_ecs_exec_session_that_hangs_is_killed(world, plugin_on_path, tmp_path, monkeypatch) -> None:
    facts = _facts("ecs-exec", tmp_path, timeout=1.5)
    task = facts.tasks(SVC)[0]
    _backend_task(task["taskArn"]).containers[0].runtime_id = "rt-1"
    facts._memo.clear()
    task = facts.tasks(SVC)[0]
    facts.service_task_definition(SVC)
    monkeypatch.setenv("FAKE_SMP_MODE", "hang")
    monkeypatch.setenv("FAKE_SMP_PIDFILE", str(tmp_path / "pid"))
    with Stubber(facts.aws.client("ecs")) as stub:
        stub.add_response("execute_command", _session_response(task["taskArn"]))
        res = EcsExecTransport().run(facts, SVC, probe_spec(facts, "ecs-exec"))
    assert not res.ok and "did not finish" in (res.reason or "")
    pid = int((tmp_path / "pid").read_text())
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the session-manager-plugin process was left running")


def test_ecs_exec_agent_not_running(world, plugin_on_path, tmp_path) -> None:
    facts = _facts("ecs-exec", tmp_path)
    task = facts.tasks(SVC)[0]
    _backend_task(task["taskArn"]).containers[0].runtime_id = "rt-1"
    facts._memo.clear()
    facts.tasks(SVC)
    facts.service_task_definition(SVC)
    with Stubber(facts.aws.client("ecs")) as stub:
        stub.add_client_error("execute_command", "InvalidParameterException",
                              "The execute command failed because execute command was not enabled when the task "
                              "was run or the execute command agent isn't running.")
        with pytest.raises(TransportUnavailable) as e:
            EcsExecTransport().run(facts, SVC, probe_spec(facts, "ecs-exec"))
    assert "exec.agent_not_running" in e.value.signals


def test_missing_plugin_falls_back_to_the_configured_transport(world, redis_server, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no session-manager-plugin
    facts = _facts("ecs-exec", tmp_path, fallback="local")
    res = probe_results(facts, SVC)
    assert res.transport == "local" and res.ok
    assert [p.kind for p in res.problems] == ["plugin_missing"]
    assert "exec.plugin_missing" in res.problems[0].signals
    assert "session-manager-plugin" in res.problems[0].remediation
    assert probe_results(facts, SVC) is res  # memoised: one probe per service per run


def test_missing_plugin_in_reach_check_is_a_finding_with_the_install_hint(world, dns_server, tmp_path,
                                                                          monkeypatch) -> None:
    from support.probe import run_checks, world_config

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    cfg = world_config(world, dns_server, laravel_root(tmp_path), transport="ecs-exec", fallback="off")
    c = run_checks(cfg, ["reach.redis"]).check("reach.redis")
    plugin = [f for f in c.findings if f.uid == "reach.redis:plugin_missing:session-manager-plugin"]
    assert plugin and plugin[0].signals == ["exec.plugin_missing"] and "install" in plugin[0].remediation.lower()
    tasks = [f for f in c.findings if ":exec_unavailable:" in f.uid]
    assert len(tasks) == 3 and "exec.plugin_missing" in tasks[0].signals
    assert c.status.value == "unknown"


def test_the_plugin_install_hint_is_the_same_in_the_transport_and_the_declared_kinds() -> None:
    """The hint is the transport's advice (exec_unavailable) and the declared fix of plugin_missing."""
    from checks.exec_ready import META as EXEC_READY
    from checks.reach_aurora import META as REACH_AURORA
    from checks.reach_redis import META as REACH_REDIS

    for meta in (REACH_REDIS, REACH_AURORA, EXEC_READY):
        assert meta.kinds["plugin_missing"].fix == PLUGIN_INSTALL_HINT, meta.id


def test_guard_allows_exec_operations_only_for_their_transport(world, tmp_path) -> None:
    facts = _facts("ecs-exec", tmp_path)
    ecs = facts.aws.client("ecs")
    with pytest.raises(WriteRefused):
        ecs.run_task(cluster="propertyfeedtemplate-production", taskDefinition="x")
    sibling = session_for(facts, "probe-task")
    assert sibling is not facts.aws and sibling.transport == "probe-task"
    assert session_for(facts, "ecs-exec") is facts.aws
    with pytest.raises(WriteRefused):
        sibling.client("ecs").execute_command(cluster="c", task="t", command="x", interactive=True)


def _probe_task_world(facts: Facts, redis_port: int, exit_code: int = 0, stop: bool = True,
                      env: dict[str, str] | None = None) -> list[str]:
    """Bend moto: when RunTask returns, put the probe's real output in the task's awslogs stream and
    stop the task with ``exit_code`` (moto runs nothing and never stops a task by itself)."""
    import boto3

    started: list[str] = []
    logs = boto3.client("logs", region_name="eu-west-1")  # the test world's own, unguarded client

    def on_run_task(parsed, **_):
        for t in parsed.get("tasks", []):
            arn = t["taskArn"]
            started.append(arn)
            bt = _backend_task(arn)
            command = bt.overrides["containerOverrides"][0]["command"]  # what the container would run
            out = subprocess.run(command, env={"PATH": os.environ["PATH"], "REDIS_HOST": "127.0.0.1",
                                               "REDIS_PORT": str(redis_port), **(env or {})},
                                 capture_output=True, text=True, timeout=60).stdout
            stream = f"ecs/app/{arn.rsplit('/', 1)[-1]}"
            logs.create_log_stream(logGroupName=f"/ecs/{SVC}", logStreamName=stream)
            now = int(time.time() * 1000)
            logs.put_log_events(logGroupName=f"/ecs/{SVC}", logStreamName=stream, logEvents=[
                {"timestamp": now + i, "message": line} for i, line in enumerate(out.splitlines()) if line.strip()])
            if stop:
                bt.last_status = "STOPPED"
                bt.stopped_reason = "Essential container in task exited"
                bt.containers[0].exitCode = exit_code

    session_for(facts, "probe-task").client("ecs").meta.events.register("after-call.ecs.RunTask", on_run_task)
    return started


def test_probe_task_runs_tags_reads_logs_and_always_stops(world, redis_server, tmp_path) -> None:
    facts = _facts("probe-task", tmp_path)
    ProbeTaskTransport.poll_interval = 0.05
    started = _probe_task_world(facts, redis_server.port)
    res = ProbeTaskTransport().run(facts, SVC, probe_spec(facts, "probe-task"))
    assert res.ok, res.reason
    assert res.redis["reply"] == "PONG" and res.exit_status == 0 and res.task == started[0]
    bt = _backend_task(started[0])
    assert bt.started_by == "ame-doctor"
    assert {"key": "ame-doctor", "value": "probe"} in bt.tags
    assert bt.task_definition_arn == world.task_definitions[SVC]
    assert bt.network_configuration["awsvpcConfiguration"]["securityGroups"] == [world.worker_sg]
    cmd = bt.overrides["containerOverrides"][0]["command"]
    assert cmd[:2] == ["sh", "-c"] and "AME_PROBE_DH=" in cmd[2] and "AME_PROBE_KEY" not in cmd[2]
    assert ("ecs", "StopTask") in facts.aws.calls or ("ecs", "StopTask") in session_for(facts, "probe-task").calls
    assert bt.desired_status == "STOPPED"


def test_probe_task_that_never_stops_is_stopped_anyway(world, redis_server, tmp_path) -> None:
    facts = _facts("probe-task", tmp_path, timeout=0.5)
    ProbeTaskTransport.poll_interval = 0.05
    started = _probe_task_world(facts, redis_server.port, stop=False)
    res = ProbeTaskTransport().run(facts, SVC, probe_spec(facts, "probe-task"))
    assert not res.ok and "did not stop" in (res.reason or "")
    assert _backend_task(started[0]).desired_status == "STOPPED"


def test_probe_task_nonzero_exit_is_reported(world, redis_server, tmp_path) -> None:
    facts = _facts("probe-task", tmp_path)
    ProbeTaskTransport.poll_interval = 0.05
    _probe_task_world(facts, redis_server.port, exit_code=2)
    res = ProbeTaskTransport().run(facts, SVC, probe_spec(facts, "probe-task"))
    assert res.exit_status == 2


def test_off_transport_is_unavailable(world, tmp_path) -> None:
    facts = _facts("off", tmp_path)
    res = probe_results(facts, SVC)
    assert not res.ok and res.problems[0].kind == "exec_off"



def test_probe_task_parameters_and_logs_hold_no_fingerprint_key(world, redis_server, tmp_path) -> None:
    """What RunTask sends (CloudTrail, DescribeTasks' overrides) and what the task logs: a weak secret's
    fingerprint cannot be matched from them; the doctor matches it."""
    import boto3

    from support.probe import guess_secret

    facts = _facts("probe-task", tmp_path)
    ProbeTaskTransport.poll_interval = 0.05
    started = _probe_task_world(facts, redis_server.port, env={"DB_PASSWORD": "abcd"})
    res = ProbeTaskTransport().run(facts, SVC, probe_spec(facts, "probe-task"))
    assert res.ok and res.matches("DB_PASSWORD", "abcd") is True
    overrides = json.dumps(_backend_task(started[0]).overrides)
    logs = boto3.client("logs", region_name="eu-west-1").get_log_events(
        logGroupName=f"/ecs/{SVC}", logStreamName=f"ecs/app/{started[0].rsplit('/', 1)[-1]}")["events"]
    observed = overrides + "\n" + "\n".join(e["message"] for e in logs)
    assert guess_secret(observed, res.env["fp"]["DB_PASSWORD"], ["abcd", "abce", "password"]) is None
