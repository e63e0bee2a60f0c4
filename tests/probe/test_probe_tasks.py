"""ecs-exec in every RUNNING task of a service (up to [exec] max_tasks_per_service): each task its own session
(the stand-in session-manager-plugin runs the command the task's container would, with that task's
environment), and reach.aurora naming the one task that differs (real MariaDB, a black hole, moto)."""

from __future__ import annotations

import json

import pytest

from doctor.sim.world import WorldSpec, build_world

from support.probe import FIXTURES, laravel_root


def _backend_task(arn: str):
    from moto.ecs.models import ecs_backends

    for tasks in ecs_backends["123456789012"]["eu-west-1"].tasks.values():
        for t in tasks.values():
            if t.task_arn == arn:
                return t
    raise KeyError(arn)


@pytest.fixture
def plugin_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("PATH", f"{FIXTURES}{os.pathsep}{os.environ['PATH']}")


IMAGE = "propertyfeedtemplate-image"


def _roll_one_task_behind(world, service: str) -> tuple[str, str]:
    """A new revision of ``service`` with two fresh tasks, one task left on the old revision (a deployment
    that has not finished, or a task that will not drain): returns (old task arn, new revision arn)."""
    import boto3

    ecs = boto3.client("ecs", region_name="eu-west-1")
    cluster = world.spec.cluster
    td = ecs.describe_task_definition(taskDefinition=world.task_definitions[service])["taskDefinition"]
    keep = ("family", "containerDefinitions", "networkMode", "requiresCompatibilities", "cpu", "memory",
            "executionRoleArn", "taskRoleArn")
    new = ecs.register_task_definition(**{k: td[k] for k in keep if k in td})["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=cluster, service=service, taskDefinition=new)
    old = sorted(world.tasks[service])
    for arn in old[1:]:
        ecs.stop_task(cluster=cluster, task=arn, reason="replaced by the deployment")
    svc = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    fresh = ecs.run_task(cluster=cluster, taskDefinition=new, count=2, launchType="FARGATE", group=f"service:{service}",
                         networkConfiguration=svc["networkConfiguration"])["tasks"]
    for t in fresh:
        bt = _backend_task(t["taskArn"])
        bt.enable_execute_command = True
        bt.last_status = "RUNNING"
        for i, c in enumerate(bt.containers):
            c.runtime_id = f"{bt.id}-{i}"
    return old[0], new


def test_ecs_exec_probes_every_running_task_and_names_the_one_that_fails(
        redis_server, mariadb, blackhole, dns_server, plugin_on_path, tmp_path, monkeypatch) -> None:
    """Three tasks of the image service, one left on the old revision whose DB_PORT leads nowhere: reach.aurora
    says 'ok 2 of 3' and names that task with its revision and subnet; the other services stay whole."""
    import boto3
    from moto import mock_aws

    from doctor.model import CheckStatus
    from doctor.sim.world import pin_ecs_task_status

    from support.probe import run_checks, stand_in_execute_command, world_config

    with mock_aws():
        pin_ecs_task_status()
        w = build_world(boto3.Session(region_name="eu-west-1"), WorldSpec(
            redis_port=redis_server.port, db_port=mariadb.port, db_name=mariadb.database,
            db_username=mariadb.user, db_password=mariadb.password, running_tasks=3))
        old_task, new_td = _roll_one_task_behind(w, IMAGE)
        exec_dir = tmp_path / "exec"
        exec_dir.mkdir()
        tasks = {svc: [t["taskArn"] for t in boto3.client("ecs", region_name="eu-west-1").describe_tasks(
            cluster=w.spec.cluster, tasks=boto3.client("ecs", region_name="eu-west-1").list_tasks(
                cluster=w.spec.cluster, desiredStatus="RUNNING")["taskArns"])["tasks"]
            if t.get("group") == f"service:{svc}"] for svc in w.services.values()}
        app = laravel_root(tmp_path)
        for arns in tasks.values():
            for arn in arns:
                env = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port), "DB_HOST": "127.0.0.1",
                       "DB_PORT": str(blackhole.port if arn == old_task else mariadb.port),
                       "DB_DATABASE": mariadb.database, "DB_USERNAME": mariadb.user, "DB_PASSWORD": mariadb.password}
                (exec_dir / f"{arn.rsplit('/', 1)[-1]}.env.json").write_text(json.dumps(env))
        monkeypatch.setenv("FAKE_SMP_MODE", "exec")
        monkeypatch.setenv("FAKE_SMP_EXEC_DIR", str(exec_dir))
        commands: list[dict] = []
        cfg = world_config(w, dns_server, app, transport="ecs-exec", timeout=6)

        from doctor.aws import AwsSession

        aws = AwsSession("eu-west-1", transport="ecs-exec")
        stand_in_execute_command(aws.client("ecs"), exec_dir, commands)
        c = run_checks(cfg, ["reach.aurora"], aws=aws).check("reach.aurora")

    assert len(commands) == 9  # 3 services x 3 running tasks, each its own session
    assert c.status == CheckStatus.fail
    image = [f for f in c.findings if f.evidence.get("vantage") == f"task:{IMAGE}"]
    by_kind = {f.uid.split(":")[1]: f for f in image}
    assert set(by_kind) == {"ok", "timeout"}
    bad = by_kind["timeout"]
    old_id = old_task.rsplit("/", 1)[-1]
    assert bad.evidence["tasks_with_outcome"] == 1 and bad.evidence["tasks_probed"] == 3
    assert [t["task"] for t in bad.evidence["tasks"]] == [old_id]
    old_rev, new_rev = w.task_definitions[IMAGE].rsplit(":", 1)[-1], new_td.rsplit(":", 1)[-1]
    assert f"task {old_id[:8]} (rev {old_rev}, service on rev {new_rev}, subnet-" in bad.detail
    assert "(1 of 3 tasks)" in bad.title
    assert by_kind["ok"].evidence["tasks_with_outcome"] == 2 and "(2 of 3 tasks)" in by_kind["ok"].title
    assert c.summary.startswith("tasks: ok 8/9, timeout 1/9; task " + old_id[:8])
    assert f"of {IMAGE}: timeout" in c.summary
    for svc in set(w.services.values()) - {IMAGE}:  # whole services keep one finding without task counts
        (f,) = [f for f in c.findings if f.evidence.get("vantage") == f"task:{svc}"]
        assert f.uid.split(":")[1] == "ok" and "of 3 tasks" not in f.title and f.evidence["tasks_probed"] == 3


def test_pick_tasks_puts_every_revision_and_subnet_in_the_sample() -> None:
    from doctor.probe.transports import pick_tasks

    def task(n: int, rev: int, subnet: str) -> dict:
        return {"taskArn": f"arn:task/{n}", "taskDefinitionArn": f"arn:td/app:{rev}", "startedAt": f"2024-01-0{n}",
                "attachments": [{"details": [{"name": "subnetId", "value": subnet}]}]}

    tasks = [task(1, 42, "a"), task(2, 42, "a"), task(3, 42, "a"), task(4, 42, "b"), task(5, 41, "a")]
    picked = [t["taskArn"][-1] for t in pick_tasks(tasks, 3, "arn:td/app:42")]
    assert picked == ["5", "1", "4"]  # the old revision first, then one per subnet of the current one
    assert [t["taskArn"][-1] for t in pick_tasks(tasks, 1, "arn:td/app:42")] == ["5"]
    assert len(pick_tasks(tasks, 10, "arn:td/app:42")) == 5


@pytest.mark.skipif(__import__("os").geteuid() != 0, reason="ECS Exec sessions run as root; so must this test")
def test_ecs_exec_judges_runtime_dirs_in_the_workdir_as_the_containers_user(
        redis_server, dns_server, plugin_on_path, tmp_path, monkeypatch) -> None:
    """The task definition says workingDirectory=<app> and user=65534; the session runs as root elsewhere:
    the probe reads the directories there and judges them as uid 65534 (root-owned 0755: not writable)."""
    import boto3
    from moto import mock_aws

    from doctor.aws import AwsSession
    from doctor.sim.world import pin_ecs_task_status

    from support.probe import run_checks, stand_in_execute_command, world_config

    app = laravel_root(tmp_path)
    (app / "storage/logs").chmod(0o755)
    with mock_aws():
        pin_ecs_task_status()
        w = build_world(boto3.Session(region_name="eu-west-1"), WorldSpec(redis_port=redis_server.port))
        ecs = boto3.client("ecs", region_name="eu-west-1")
        for svc in w.services.values():
            td = ecs.describe_task_definition(taskDefinition=w.task_definitions[svc])["taskDefinition"]
            for c in td["containerDefinitions"]:
                c.update(user="65534", workingDirectory=str(app))
            keep = ("family", "containerDefinitions", "networkMode", "requiresCompatibilities", "cpu", "memory")
            new = ecs.register_task_definition(**{k: td[k] for k in keep if k in td})["taskDefinition"]
            for arn in w.tasks[svc]:
                _backend_task(arn).task_definition_arn = new["taskDefinitionArn"]
            ecs.update_service(cluster=w.spec.cluster, service=svc, taskDefinition=new["taskDefinitionArn"])
        exec_dir = tmp_path / "exec"
        exec_dir.mkdir()
        for arns in w.tasks.values():
            for arn in arns:
                (exec_dir / f"{arn.rsplit('/', 1)[-1]}.env.json").write_text(json.dumps(
                    {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port)}))
        monkeypatch.setenv("FAKE_SMP_MODE", "exec")
        monkeypatch.setenv("FAKE_SMP_EXEC_DIR", str(exec_dir))
        monkeypatch.chdir(tmp_path)  # the session's cwd is not the app root
        commands: list[dict] = []
        aws = AwsSession("eu-west-1", transport="ecs-exec")
        stand_in_execute_command(aws.client("ecs"), exec_dir, commands)
        cfg = world_config(w, dns_server, None, transport="ecs-exec")
        c = run_checks(cfg, ["reach.redis"], aws=aws).check("reach.redis")
    assert all("AME_PROBE_USER=65534" in x["command"] and f"AME_PROBE_ROOT={app}" in x["command"] for x in commands)
    dirs = [f for f in c.findings if ":runtime_dir_unwritable:" in f.uid]
    assert len(dirs) == 3
    ev = dirs[0].evidence
    assert ev["root"] == str(app) and ev["root_source"] == "workdir"
    assert ev["as"] == {"uid": "65534", "gid": "65534", "source": "container"}  # nobody:nogroup here
    assert set(ev["dirs"].values()) == {"unwritable"} and "0:0:755" in dirs[0].detail
    assert "as the worker's user (uid 65534, gid 65534, from container)" in dirs[0].detail


def test_a_task_without_ecs_exec_among_answering_siblings_is_a_named_warning(
        redis_server, dns_server, plugin_on_path, tmp_path, monkeypatch) -> None:
    import boto3
    from moto import mock_aws

    from doctor.aws import AwsSession
    from doctor.model import CheckStatus
    from doctor.sim.world import pin_ecs_task_status

    from support.probe import run_checks, stand_in_execute_command, world_config

    with mock_aws():
        pin_ecs_task_status()
        w = build_world(boto3.Session(region_name="eu-west-1"), WorldSpec(redis_port=redis_server.port,
                                                                          running_tasks=2))
        exec_dir = tmp_path / "exec"
        exec_dir.mkdir()
        for arns in w.tasks.values():
            for arn in arns:
                (exec_dir / f"{arn.rsplit('/', 1)[-1]}.env.json").write_text(json.dumps(
                    {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port)}))
        closed = sorted(w.tasks[IMAGE])[0]
        _backend_task(closed).enable_execute_command = False  # started before exec was enabled
        monkeypatch.setenv("FAKE_SMP_MODE", "exec")
        monkeypatch.setenv("FAKE_SMP_EXEC_DIR", str(exec_dir))
        aws = AwsSession("eu-west-1", transport="ecs-exec")
        stand_in_execute_command(aws.client("ecs"), exec_dir, [])
        c = run_checks(world_config(w, dns_server, laravel_root(tmp_path), transport="ecs-exec"), ["reach.redis"],
                       aws=aws).check("reach.redis")
    assert c.status == CheckStatus.warn  # the path is proven from the other task; the gap is named
    (gap,) = [f for f in c.findings if ":exec_unavailable:" in f.uid]
    closed_id = closed.rsplit("/", 1)[-1]
    assert gap.evidence["vantage"] == f"task:{IMAGE}" and "exec.disabled" in gap.signals
    assert gap.evidence["reason"].startswith(f"1 of 2 tasks not probed: task {closed_id[:8]} (rev ")
    assert "--enable-execute-command" in gap.remediation
    ok = [f for f in c.findings if f.uid == f"reach.redis:ok:task:{IMAGE}"]
    assert ok and "(1 of 2 tasks)" in ok[0].title
    assert c.summary.startswith("tasks: ok 5/6; 1 task vantage(s) not probed; task " + closed_id[:8])
