"""Exec transports: how the probe gets to where the worker runs.

- ``ecs-exec``: ``ecs.execute_command(interactive=True)`` then ``session-manager-plugin`` with the session,
  exactly as the AWS CLI drives it; the exit status comes back through a sentinel line. Up to
  ``[exec] max_tasks_per_service`` RUNNING tasks per service, concurrently, picked so that every task
  definition revision and subnet in use is among them. The session runs as root wherever ECS Exec starts
  it, so the probe is told the app root (``[exec] app_root``, else the container's ``workingDirectory``)
  and the worker's user (the container's ``user``, else the worker process's owner).
- ``probe-task``: a one-off ``RunTask`` of the service's own task definition and network configuration
  with a command override (so it runs as the worker's own user), tagged ``ame-doctor=probe``, ``startedBy=ame-doctor``; bounded poll; exit code
  from the task, output from its awslogs stream; the task is always stopped.
- ``local``: the same command on this host (tests, demo, on-call inside the VPC).
- ``off``.

Every subprocess runs in its own process group with a deadline and is killed as a group on timeout
(:mod:`doctor.probe.process`). Which transport runs, with which fallback, once per service per run, is
:mod:`doctor.probe.runner`'s business; this module only knows how each transport works.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import time
from typing import TYPE_CHECKING, Any

from doctor.aws import EXEC_OPERATIONS, AwsSession, denied_action, error_code, is_allowed
from doctor.probe.container import container_env, resolve_overrides
from doctor.probe.process import run_bounded
from doctor.probe.result import ProbeResult, TransportUnavailable, parse_output
from doctor.probe.script import ProbeSpec

if TYPE_CHECKING:
    from doctor.aws import AwsSession
    from doctor.facts import Facts

PLUGIN = "session-manager-plugin"
PROBE_TAG = {"key": "ame-doctor", "value": "probe"}
STARTED_BY = "ame-doctor"
MAX_OVERRIDES_CHARS = 8192  # RunTask: total characters of the overrides JSON
PLUGIN_INSTALL_HINT = (
    "Install the Session Manager plugin: https://docs.aws.amazon.com/systems-manager/latest/userguide/"
    "session-manager-working-with-install-plugin.html (Debian/Ubuntu: download session-manager-plugin.deb and "
    "`sudo dpkg -i session-manager-plugin.deb`; macOS: `brew install --cask session-manager-plugin`), "
    "or run with `--exec probe-task` (no plugin needed) or set `[exec] fallback = \"probe-task\"`."
)


def session_for(facts: Facts, transport: str) -> AwsSession:
    """The run's AWS session when its guard already allows ``transport``'s operations, else a sibling
    session guarded for exactly that transport (used when it is the configured ``[exec] fallback``)."""

    aws = facts.aws
    if all(is_allowed(op, aws.transport) for op in EXEC_OPERATIONS[transport]):
        return aws

    def make() -> AwsSession:
        s = AwsSession(aws.region, aws.profile, transport=transport, connect_timeout=aws.connect_timeout,
                       read_timeout=aws.read_timeout, max_attempts=aws.max_attempts)
        return s

    return facts.memo(("probe.aws", transport), make)


def _aws_unavailable(e: Exception, action: str) -> TransportUnavailable:

    denied = denied_action(e)
    if denied:
        return TransportUnavailable(f"access denied: needs {denied}", kind="exec_denied", unlock=denied,
                                    remediation=f"Allow {denied} for the doctor's role.")
    return TransportUnavailable(f"{action} failed: {error_code(e) or type(e).__name__}: {e}")


def container_spec(spec: ProbeSpec, cdef: dict[str, Any], run_as: str | None) -> ProbeSpec:
    """``spec`` for one container: the app root from its ``workingDirectory`` unless configured, and who
    the worker runs as."""
    root, source = spec.app_root, spec.root_source
    if not root and cdef.get("workingDirectory"):
        root, source = str(cdef["workingDirectory"]), "workdir"
    return dataclasses.replace(spec, app_root=root, root_source=source, run_as=run_as)


def _subnet(task: dict[str, Any]) -> str | None:
    for att in task.get("attachments") or []:
        for d in att.get("details") or []:
            if d.get("name") == "subnetId":
                return str(d.get("value"))
    return None


def describe_task(res: ProbeResult, task: dict[str, Any], current_td: str | None) -> ProbeResult:
    """Fill what tells ``task`` from its siblings: its revision and the service's, subnet and availability zone."""
    td = task.get("taskDefinitionArn") or ""
    res.revision = td.rsplit("/", 1)[-1] or None
    res.service_revision = current_td.rsplit("/", 1)[-1] if current_td else None
    res.subnet = _subnet(task)
    res.az = task.get("availabilityZone")
    return res


def pick_tasks(tasks: list[dict[str, Any]], limit: int, current_td: str | None) -> list[dict[str, Any]]:
    """At most ``limit`` tasks: one of each (revision, subnet) first, older revisions before the current
    one, so that a task on an old revision or in another subnet is among those probed."""
    ordered = sorted(tasks, key=lambda t: (t.get("taskDefinitionArn") == current_td, t.get("taskDefinitionArn", ""),
                                           _subnet(t) or "", str(t.get("startedAt") or ""), t.get("taskArn", "")))
    first: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for t in ordered:
        kind = (t.get("taskDefinitionArn", ""), _subnet(t) or "")
        (rest if kind in seen else first).append(t)
        seen.add(kind)
    return (first + rest)[:limit]


class Transport:
    name = "off"

    def prepare(self, facts: Facts, service: str) -> None:
        """Fetch what ``run`` reads before it launches the probe (into the run's memo): the service and its
        task definition. The engine starts the other checks once every probe is under way."""
        facts.services()
        facts.service_task_definition(service)

    def run(self, facts: Facts, service: str, spec: ProbeSpec) -> ProbeResult:
        raise NotImplementedError

    def run_all(self, facts: Facts, service: str, spec: ProbeSpec) -> list[ProbeResult]:
        """The probes of ``service`` this transport makes (one, unless it probes several tasks)."""
        return [self.run(facts, service, spec)]


class OffTransport(Transport):
    name = "off"

    def prepare(self, facts: Facts, service: str) -> None:
        return None

    def run(self, facts: Facts, service: str, spec: ProbeSpec) -> ProbeResult:
        raise TransportUnavailable("exec transport is off", kind="exec_off",
                                   remediation="Run with --exec ecs-exec, --exec probe-task, or --exec local "
                                   "(on a host inside the VPC).", unlock="--exec ecs-exec|probe-task|local")


# --- local ---------------------------------------------------------------------------------
class LocalTransport(Transport):
    """The probe on this host, in the environment the service's container would have."""

    name = "local"

    def prepare(self, facts: Facts, service: str) -> None:
        super().prepare(facts, service)
        self._container(facts, service)

    @staticmethod
    def _container(facts: Facts, service: str) -> tuple[dict[str, str], dict[str, str]]:
        """The service's container environment and the addresses of its Redis and DB hosts (memoised)."""

        def make() -> tuple[dict[str, str], dict[str, str]]:
            env = container_env(facts, service)
            hosts = [env.get("REDIS_HOST"), env.get("DB_HOST")]
            return env, resolve_overrides(facts, hosts, facts.config.exec.probe_timeout)

        return facts.memo(("probe.container", service), make)

    def run(self, facts: Facts, service: str, spec: ProbeSpec) -> ProbeResult:
        env, resolve = self._container(facts, service)
        env = dict(env)
        spec = dataclasses.replace(spec, resolve=resolve)
        for k in ("PATH", "HOME", "TMPDIR", "LANG"):
            if k in os.environ:
                env.setdefault(k, os.environ[k])
        res = ProbeResult(service=service, transport=self.name, task="local")
        sh = shutil.which("sh", path=env.get("PATH"))
        if not sh:
            raise TransportUnavailable("no sh on PATH for the local probe")
        root = spec.app_root or os.getcwd()
        cwd = root if os.path.isdir(root) else None
        rc, out, timed_out = run_bounded([sh, "-c", spec.shell_script()], env=env, cwd=cwd,
                                         timeout=facts.config.exec.timeout)
        parse_output(out, res, spec.exchange)
        if timed_out:
            res.reason = f"the local probe did not finish within {facts.config.exec.timeout:g}s"
            res.ok = False
        elif res.exit_status is None:
            res.exit_status = rc
        return res


# --- ecs-exec -------------------------------------------------------------------------------
class EcsExecTransport(Transport):
    """``ecs.execute_command`` + ``session-manager-plugin``, as ``aws ecs execute-command`` does it, in up to
    ``[exec] max_tasks_per_service`` RUNNING tasks of the service at once."""

    name = "ecs-exec"

    def prepare(self, facts: Facts, service: str) -> None:
        super().prepare(facts, service)
        facts.tasks(service, "RUNNING")  # the tasks to exec into

    def run(self, facts: Facts, service: str, spec: ProbeSpec) -> ProbeResult:
        return self.run_all(facts, service, spec)[0]

    def run_all(self, facts: Facts, service: str, spec: ProbeSpec) -> list[ProbeResult]:
        plugin = shutil.which(PLUGIN)
        if not plugin:
            raise TransportUnavailable(f"{PLUGIN} is not on PATH", kind="plugin_missing",
                                       signals=("exec.unavailable", "exec.plugin_missing"),
                                       remediation=PLUGIN_INSTALL_HINT)
        running = [t for t in facts.tasks(service, "RUNNING") if t.get("lastStatus") == "RUNNING"]
        if not running:
            raise TransportUnavailable(f"no RUNNING task of {service} to exec into", kind="no_task",
                                       remediation="Scale the service up, or use --exec probe-task.")
        svc = facts.services().get(service) or {}
        chosen = pick_tasks(running, facts.config.exec.max_tasks_per_service, svc.get("taskDefinition"))
        outcomes: list[ProbeResult | TransportUnavailable | None] = [None] * len(chosen)

        def one(i: int, task: dict[str, Any]) -> None:
            try:
                res = self._run_task(facts, service, task, spec, plugin)
            except TransportUnavailable as e:
                outcomes[i] = e
                return
            except Exception as e:  # an AWS error in one task is that task's result, not every task's
                res = ProbeResult(service=service, transport=self.name, task=task.get("taskArn"),
                                  reason=f"{type(e).__name__}: {e}")
                res.error = e
            outcomes[i] = describe_task(res, task, svc.get("taskDefinition"))

        threads = [threading.Thread(target=one, args=(i, t), name=f"exec-{service}-{i}", daemon=True)
                   for i, t in enumerate(chosen)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if all(isinstance(o, TransportUnavailable) for o in outcomes):
            raise next(o for o in outcomes if isinstance(o, TransportUnavailable))  # every task: try the fallback
        results: list[ProbeResult] = []
        for task, o in zip(chosen, outcomes, strict=True):
            if isinstance(o, ProbeResult):
                results.append(o)
                continue
            failed = ProbeResult(service=service, transport=self.name, task=task.get("taskArn"),
                                 reason=o.reason if o else "the probe did not finish", problems=[o] if o else [])
            results.append(describe_task(failed, task, svc.get("taskDefinition")))
        for r in results:
            r.running_tasks = len(running)
        return results

    def _run_task(self, facts: Facts, service: str, task: dict[str, Any], spec: ProbeSpec, plugin: str) -> ProbeResult:
        cluster = facts.config.ecs.cluster
        if task.get("enableExecuteCommand") is False:
            raise TransportUnavailable(
                f"ECS Exec is not enabled on task {task['taskArn'].rsplit('/', 1)[-1]}", kind="exec_disabled",
                signals=("exec.unavailable", "exec.disabled"),
                remediation=f"aws ecs update-service --cluster {cluster} --service {service} "
                "--enable-execute-command --force-new-deployment")
        td = facts.task_definition(task["taskDefinitionArn"]) if task.get("taskDefinitionArn") else {}
        name = facts.container_name(td) if td else facts.config.ecs.container
        containers = task.get("containers", [])
        container = next((c for c in containers if c.get("name") == name), containers[0] if containers else None)
        runtime_id = (container or {}).get("runtimeId")
        if not container or not runtime_id:
            raise TransportUnavailable(f"container {name!r} of the task has no runtimeId yet (not started?)",
                                       kind="no_runtime_id")
        cdef: dict[str, Any] = next((c for c in td.get("containerDefinitions", []) if c.get("name") == container["name"]), {})
        # ECS Exec runs as root wherever the agent starts: the probe judges the directories as the worker
        spec = container_spec(spec, cdef, run_as=cdef.get("user") or None)
        aws = session_for(facts, "ecs-exec")
        ecs = aws.client("ecs")
        try:
            resp = ecs.execute_command(cluster=cluster, task=task["taskArn"], container=container["name"],
                                       interactive=True, command=spec.exec_command())
        except Exception as e:
            u = _aws_unavailable(e, "ecs:ExecuteCommand")
            if "agent" in str(e).lower() or "not enabled" in str(e).lower():
                u.signals = ("exec.unavailable", "exec.agent_not_running")
                u.remediation = ("Redeploy the service with --enable-execute-command and check the "
                                 "ExecuteCommandAgent status (`ame-doctor run --only exec.ready`).")
            raise u from None
        cluster_name = resp.get("clusterArn", cluster).rsplit("/", 1)[-1]
        task_id = resp.get("taskArn", task["taskArn"]).rsplit("/", 1)[-1]
        target = {"Target": f"ecs:{cluster_name}_{task_id}_{runtime_id}"}
        argv = [plugin, json.dumps(resp["session"]), ecs.meta.region_name, "StartSession", aws.profile or "",
                json.dumps(target), ecs.meta.endpoint_url]
        res = ProbeResult(service=service, transport=self.name, task=task["taskArn"])
        rc, out, timed_out = run_bounded(argv, timeout=facts.config.exec.timeout, use_pty=True)
        parse_output(out, res, spec.exchange)
        if timed_out:
            res.ok = False
            res.reason = f"the ECS Exec session did not finish within {facts.config.exec.timeout:g}s (killed)"
        elif res.exit_status is None:
            res.reason = res.reason or f"{PLUGIN} exited {rc} without the probe's exit sentinel"
            res.ok = False
        return res


# --- probe-task -----------------------------------------------------------------------------
class ProbeTaskTransport(Transport):
    """A one-off task of the service's own task definition and network, stopped in every case."""

    name = "probe-task"
    poll_interval = 2.0

    def run(self, facts: Facts, service: str, spec: ProbeSpec) -> ProbeResult:
        svc = facts.services().get(service)
        if not svc:
            raise TransportUnavailable(f"ECS service {service} not found", kind="no_service")
        td = facts.service_task_definition(service) or {}
        container = facts.container_name(td)
        if not container:
            raise TransportUnavailable(f"no container to override in {svc.get('taskDefinition')}")
        cluster = facts.config.ecs.cluster
        cdef: dict[str, Any] = next((c for c in td.get("containerDefinitions", []) if c.get("name") == container), {})
        spec = container_spec(spec, cdef, run_as="self")  # the one-off task runs as the worker's own user
        overrides = {"containerOverrides": [{"name": container, "command": spec.task_command()}]}
        size = len(json.dumps(overrides, separators=(",", ":")))
        if size > MAX_OVERRIDES_CHARS:
            raise TransportUnavailable(f"probe overrides are {size} characters (RunTask allows {MAX_OVERRIDES_CHARS})")
        kwargs: dict[str, Any] = {
            "cluster": cluster, "taskDefinition": svc["taskDefinition"], "count": 1, "startedBy": STARTED_BY,
            "overrides": overrides, "tags": [PROBE_TAG, {"key": "ame-doctor:service", "value": service}],
        }
        if svc.get("networkConfiguration"):
            kwargs["networkConfiguration"] = svc["networkConfiguration"]
        if svc.get("capacityProviderStrategy"):
            kwargs["capacityProviderStrategy"] = svc["capacityProviderStrategy"]
        elif svc.get("launchType"):
            kwargs["launchType"] = svc["launchType"]
        if svc.get("platformVersion"):
            kwargs["platformVersion"] = svc["platformVersion"]
        ecs = session_for(facts, "probe-task").client("ecs")
        try:
            resp = ecs.run_task(**kwargs)
        except Exception as e:
            raise _aws_unavailable(e, "ecs:RunTask") from None
        if not resp.get("tasks"):
            why = "; ".join(f"{f.get('arn', '')} {f.get('reason', '')}".strip() for f in resp.get("failures", []))
            raise TransportUnavailable(f"RunTask started no task: {why or 'no reason given'}", kind="run_task_failed")
        arn = resp["tasks"][0]["taskArn"]
        res = ProbeResult(service=service, transport=self.name, task=arn)
        deadline = time.monotonic() + facts.config.exec.timeout
        stopped: dict[str, Any] | None = None
        try:
            while True:
                d = ecs.describe_tasks(cluster=cluster, tasks=[arn]).get("tasks", [])
                if d and d[0].get("lastStatus") == "STOPPED":
                    stopped = d[0]
                    break
                if time.monotonic() >= deadline:
                    break
                time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))
            text = self._log_text(facts, td, container, arn)
            parse_output(text, res, spec.exchange)
            describe_task(res, stopped or resp["tasks"][0], svc.get("taskDefinition"))
            if stopped is None:
                res.ok = False
                res.reason = f"the probe task did not stop within {facts.config.exec.timeout:g}s"
            else:
                c: dict[str, Any] = next((c for c in stopped.get("containers", []) if c.get("name") == container), {})
                if c.get("exitCode") is not None:
                    res.exit_status = int(c["exitCode"])
                if not res.ok and res.reason and stopped.get("stoppedReason"):
                    res.reason += f" (task stopped: {stopped['stoppedReason']})"
        finally:
            try:
                ecs.stop_task(cluster=cluster, task=arn, reason="ame-doctor probe finished")
            except Exception as e:  # recorded, never raised over the result
                res.reason = (res.reason + "; " if res.reason else "") + f"StopTask failed: {e}"
        return res

    def _log_text(self, facts: Facts, td: dict[str, Any], container: str, arn: str) -> str:
        cdef: dict[str, Any] = next((c for c in td.get("containerDefinitions", []) if c.get("name") == container), {})
        lc = cdef.get("logConfiguration") or {}
        opts = lc.get("options") or {}
        if lc.get("logDriver") != "awslogs" or "awslogs-group" not in opts:
            return ""
        stream = f"{opts.get('awslogs-stream-prefix', 'ecs')}/{container}/{arn.rsplit('/', 1)[-1]}"
        logs = facts.aws.client("logs")
        lines: list[str] = []
        try:
            kw: dict[str, Any] = {"logGroupName": opts["awslogs-group"], "logStreamName": stream, "startFromHead": True}
            for _ in range(10):
                page = logs.get_log_events(**kw)
                lines.extend(e.get("message", "") for e in page.get("events", []))
                token = page.get("nextForwardToken")
                if not page.get("events") or not token or token == kw.get("nextToken"):
                    break
                kw["nextToken"] = token
        except Exception:
            return "\n".join(lines)
        return "\n".join(lines)


TRANSPORTS: dict[str, type[Transport]] = {
    "ecs-exec": EcsExecTransport, "probe-task": ProbeTaskTransport, "local": LocalTransport, "off": OffTransport,
}


def get_transport(name: str) -> Transport:
    return TRANSPORTS[name]()
