"""ecs.startup — why worker tasks stop: classified stop reasons, exit codes and startup log lines."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from doctor.aws import denied_action, error_code
from doctor.checkapi import CheckContext, CheckMeta, check
from doctor.facts import _ts
from doctor.model import Finding
from doctor.signatures import LogHit, StopClass, classify_stop, essential_exit_code, scan

META = CheckMeta(
    id="ecs.startup",
    title="Worker tasks start and stay up (stop reasons, startup logs)",
    order=7,
    proves="No worker task of any service stopped in the look-back window for a startup reason (image pull, "
    "secrets, logging driver, OOM, non-zero exit before work); the newest stopped and running tasks' log lines "
    "show none of the known failure signatures (DB/Redis DNS, timeouts, refusals, auth, read-only reader, "
    "APP_KEY, runtime directories).",
    why="A Fargate worker that cannot start, or starts and dies on its first DB/Redis call, is replaced again and "
    "again; the queue looks staffed while nothing is consumed. The stop reason and the first log lines say why.",
    remediation="Fix the cause named in the finding (image tag, SSM parameter or execution-role permission, log "
    "group, memory, APP_KEY, storage/ and bootstrap/cache directories, DB/Redis settings), then "
    "`aws ecs update-service --force-new-deployment`.",
    iam_actions=("ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:ListTasks", "ecs:DescribeTasks",
                 "logs:GetLogEvents", "logs:DescribeLogStreams"),
    needs=("aws",),
)

MAX_LOG_PAGES = 3        # per stream
LOG_PAGE_LIMIT = 500     # events per page
MAX_GROUPS_SHOWN = 5


def _task_id(task: dict[str, Any]) -> str:
    return str(task.get("taskArn", "")).rsplit("/", 1)[-1]


def _essential(td: dict[str, Any] | None) -> set[str]:
    return {c["name"] for c in (td or {}).get("containerDefinitions", []) if c.get("essential", True)}


def _awslogs(td: dict[str, Any], container: str | None) -> tuple[str, str] | None:
    """(log group, stream prefix) of the container's awslogs configuration."""
    for c in td.get("containerDefinitions", []):
        if container and c.get("name") != container:
            continue
        lc = c.get("logConfiguration") or {}
        if lc.get("logDriver") != "awslogs":
            return None
        opts = lc.get("options") or {}
        group = opts.get("awslogs-group")
        return (group, opts.get("awslogs-stream-prefix", "")) if group else None
    return None


def _env_value(td: dict[str, Any], container: str | None, key: str, ssm: dict[str, str]) -> str | None:
    for c in td.get("containerDefinitions", []):
        if container and c.get("name") != container:
            continue
        for e in c.get("environment", []) or []:
            if e.get("name") == key:
                return str(e.get("value"))
        for s in c.get("secrets", []) or []:
            if s.get("name") == key:
                return ssm.get(key)
    return None


def _log_lines(ctx: CheckContext, group: str, stream: str, start_ms: int) -> tuple[list[str], str | None]:
    """Up to MAX_LOG_PAGES pages of a stream from the window start; (lines, problem)."""
    logs = ctx.aws.client("logs")
    lines: list[str] = []
    token: str | None = None
    for _ in range(MAX_LOG_PAGES):
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startTime": start_ms,
                                  "startFromHead": True, "limit": LOG_PAGE_LIMIT}
        if token:
            kwargs["nextToken"] = token
        try:
            resp = logs.get_log_events(**kwargs)
        except Exception as e:
            code = error_code(e)
            if code == "ResourceNotFoundException":
                return lines, "missing"
            if denied_action(e):
                raise
            return lines, f"{type(e).__name__}: {e}"
        lines.extend(str(ev.get("message", "")) for ev in resp.get("events", []))
        nxt = resp.get("nextForwardToken")
        if not resp.get("events") or not nxt or nxt == token:
            break
        token = nxt
    return lines, None


def _group_has_streams(ctx: CheckContext, group: str) -> bool | None:
    try:
        resp = ctx.aws.client("logs").describe_log_streams(logGroupName=group, limit=1)
    except Exception as e:
        if error_code(e) == "ResourceNotFoundException":
            return None
        raise
    return bool(resp.get("logStreams"))


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    cfg = ctx.config
    cluster = cfg.ecs.cluster
    services = ctx.facts.services()
    ssm: dict[str, str] = {}
    with contextlib.suppress(Exception):  # LOG_CHANNEL from SSM is a nicety here
        ssm = ctx.facts.ssm_values()
    since = ctx.facts.now - timedelta(minutes=cfg.run.window_minutes)
    start_ms = int(since.timestamp() * 1000)
    problems = 0
    examined = {"stopped_tasks": 0, "log_streams": 0, "log_lines": 0}

    for service in cfg.services:
        if services.get(service) is None:
            continue  # ecs.service reports a missing service
        td = ctx.facts.service_task_definition(service)
        essential = _essential(td)
        stopped = ctx.facts.tasks(service, "STOPPED")
        examined["stopped_tasks"] += len(stopped)

        # --- stopped tasks, grouped by class -> (stopCode, reason, exit code) --------------------
        by_kind: dict[str, tuple[StopClass, dict[tuple[str, str, int | None], list[str]]]] = {}
        for t in stopped:
            cls = classify_stop(t, essential)
            reason = str(t.get("stoppedReason") or "")
            creasons = [str(c.get("reason")) for c in t.get("containers", []) or [] if c.get("reason")]
            if creasons:
                reason = f"{reason} | {'; '.join(creasons)}" if reason else "; ".join(creasons)
            key = (str(t.get("stopCode") or ""), reason[:300], essential_exit_code(t, essential))
            by_kind.setdefault(cls.kind, (cls, {}))[1].setdefault(key, []).append(_task_id(t))
        for kind, (cls, groups) in sorted(by_kind.items(), key=lambda kv: kv[0]):
            if not cls.problem:
                continue
            problems += 1
            count = sum(len(v) for v in groups.values())
            shown = sorted(groups.items(), key=lambda kv: -len(kv[1]))[:MAX_GROUPS_SHOWN]
            evidence: dict[str, Any] = {
                "service": service, "stopped_tasks": count, "window_minutes": cfg.run.window_minutes,
                "groups": [{"stop_code": sc, "reason": r, "exit_code": ec, "tasks": len(ids),
                            "task_ids": ids[:5]} for (sc, r, ec), ids in shown],
            }
            if cls.cause:
                evidence["cause"] = cls.cause
            yield ctx.legacy_finding(kind, service, cls.severity,
                              f"{service}: {count} task(s) stopped — {cls.title}",
                              detail=_detail(cls), evidence=evidence, resources=[service],
                              signals=list(cls.signals), remediation=_remedy(cls, service, cluster, td))

        # --- logs of the newest stopped and the newest running task ------------------------------
        if td is None:
            continue
        container = ctx.facts.container_name(td)
        awslogs = _awslogs(td, container)
        if awslogs is None:
            ctx.unknown(f"{service}: the container does not log with awslogs; startup logs not read",
                             unlock="awslogs logConfiguration in the task definition")
            continue
        group, prefix = awslogs
        running = ctx.facts.tasks(service, "RUNNING")
        newest: list[tuple[str, dict[str, Any]]] = []
        if stopped:
            newest.append(("stopped", max(stopped, key=lambda t: _ts(t.get("stoppedAt") or t.get("createdAt")))))
        if running:
            newest.append(("running", max(running, key=lambda t: _ts(t.get("startedAt") or t.get("createdAt")))))
        hits: dict[str, tuple[LogHit, str]] = {}
        total_lines = 0
        read_any = False
        for which, task in newest:
            stream = f"{prefix}/{container}/{_task_id(task)}" if prefix else f"{container}/{_task_id(task)}"
            try:
                lines, problem = _log_lines(ctx, group, stream, start_ms)
            except Exception as e:
                action = denied_action(e)
                ctx.unknown(f"cannot read {group}: access denied", unlock=action or "logs:GetLogEvents")
                break
            if problem is None:
                read_any = True
            examined["log_streams"] += 1
            total_lines += len(lines)
            for signal, hit in scan(lines).items():
                if signal not in hits:
                    hits[signal] = (hit, f"{which} task {_task_id(task)} ({stream})")
                else:
                    hits[signal][0].count += hit.count
        examined["log_lines"] += total_lines
        for signal, (hit, where) in sorted(hits.items()):
            problems += 1
            yield ctx.legacy_finding(f"log_{signal.split('.', 1)[1]}", service, "error",
                              f"{service}: worker logs show {hit.title} ({hit.count} line(s))",
                              detail=f"First seen in the {where}.",
                              evidence={"service": service, "log_group": group, "where": where,
                                        "lines": hit.count, "sample": hit.sample},
                              resources=[service, group], signals=[signal],
                              remediation=_log_remedy(signal, service, cluster))
        if newest and total_lines == 0:
            channel = _env_value(td, container, "LOG_CHANNEL", ssm)
            try:
                has_streams = _group_has_streams(ctx, group)
            except Exception as e:
                action = denied_action(e)
                if not action:
                    raise
                ctx.unknown(f"cannot list the streams of {group}: access denied", unlock=action)
                continue
            if has_streams is None:
                problems += 1
                yield ctx.legacy_finding("log_group_missing", service, "error",
                                  f"{service}: log group {group} does not exist",
                                  detail="The awslogs driver cannot create streams in a missing group: tasks stop "
                                  "with 'failed to initialize logging driver' unless awslogs-create-group is set.",
                                  evidence={"service": service, "log_group": group},
                                  resources=[service, group], signals=["startup.logging_init_failed"],
                                  remediation=f"aws logs create-log-group --log-group-name {group}")
            elif channel != "stderr":
                problems += 1
                yield ctx.legacy_finding("logs_empty", service, "warning",
                                  f"{service}: no log lines in {group} and LOG_CHANNEL is "
                                  f"{channel if channel is not None else 'unset (Laravel default: stack -> file)'}",
                                  detail="Laravel's default channel writes to storage/logs/laravel.log inside the "
                                  "container, so CloudWatch never sees the exception that stops the worker.",
                                  evidence={"service": service, "log_group": group, "LOG_CHANNEL": channel,
                                            "streams_read": [w for w, _ in newest]},
                                  resources=[service, group], signals=["logs.not_on_stderr"],
                                  remediation="Set LOG_CHANNEL=stderr for the workers (SSM parameter or task "
                                  "definition environment) and redeploy.")
            else:
                yield ctx.legacy_finding("logs_empty", service, "info",
                                  f"{service}: no log lines in {group} within the last "
                                  f"{cfg.run.window_minutes} min", evidence={"service": service, "log_group": group},
                                  resources=[service, group], remediation="")
        elif not read_any and newest:
            ctx.unknown(f"{service}: no log stream found for the newest tasks in {group}")

    if problems == 0:
        yield ctx.legacy_finding("ok", cluster, "info",
                          f"No startup failures in the last {cfg.run.window_minutes} min",
                          evidence={**examined, "window_minutes": cfg.run.window_minutes},
                          signals=["startup.ok"], remediation="")


def _detail(cls: StopClass) -> str:
    if cls.kind == "secrets_unresolvable":
        return {
            "parameter_missing": "A secrets[].valueFrom names a parameter that does not exist.",
            "access_denied": "The task execution role may not read the parameters (ssm:GetParameters / kms:Decrypt).",
            "network": "The task ENI has no path to SSM (NAT or an ssm interface endpoint).",
        }.get(cls.cause, "Fargate could not resolve the task definition's secrets.")
    if cls.kind == "bootstrap_failed":
        return "The worker exited before it could process jobs; the log lines of the stopped task say why."
    return ""


def _remedy(cls: StopClass, service: str, cluster: str, td: dict[str, Any] | None) -> str:
    redeploy = f"aws ecs update-service --cluster {cluster} --service {service} --force-new-deployment"
    image = next((c.get("image") for c in (td or {}).get("containerDefinitions", [])), "<image>")
    role = (td or {}).get("executionRoleArn", "<execution role>")
    return {
        "image_pull_failed": f"Check that {image} exists in ECR and that the subnets reach ECR (api + dkr) and S3; "
                             f"then {redeploy}",
        "secrets_unresolvable": f"Create the missing parameters / grant {role} ssm:GetParameters and kms:Decrypt / "
                                f"give the subnets a path to SSM; then {redeploy}",
        "logging_init_failed": f"Create the awslogs group of the task definition and give the subnets a path to "
                               f"CloudWatch Logs; then {redeploy}",
        "oom": f"Raise the task/container memory of {service}'s task definition or lower queue:work --memory",
        "memory_limit": "Find the job that leaks memory (the worker restarts after each exit 12)",
        "bootstrap_failed": f"Read the stopped task's log lines (aws logs tail) and fix the cause; then {redeploy}",
        "clean_exit": "Run queue:work without --stop-when-empty / --max-jobs on ECS, or accept the churn",
    }.get(cls.kind, redeploy)


def _log_remedy(signal: str, service: str, cluster: str) -> str:
    redeploy = f"aws ecs update-service --cluster {cluster} --service {service} --force-new-deployment"
    return {
        "logs.db_dns": "DB_HOST does not resolve from the task: put the Aurora cluster writer endpoint in SSM, "
                       f"then {redeploy}",
        "logs.db_timeout": "Allow 3306 on the Aurora SG from the worker SG (see sg.ingress)",
        "logs.db_refused": "DB_HOST/DB_PORT point at something that is not MySQL: fix them in SSM",
        "logs.db_auth": f"Fix DB_USERNAME/DB_PASSWORD in SSM, then {redeploy}",
        "logs.db_readonly": f"DB_HOST is a reader endpoint: use the cluster writer endpoint, then {redeploy}",
        "logs.redis_dns": f"REDIS_HOST does not resolve: put the replication group's primary endpoint in SSM, then {redeploy}",
        "logs.redis_timeout": "Allow 6379 on the Redis SG from the worker SG (see sg.ingress)",
        "logs.redis_refused": "REDIS_HOST/REDIS_PORT point at no Redis: fix them in SSM",
        "reach.redis_readonly": "REDIS_HOST is a replica/reader endpoint: use the primary endpoint",
        "startup.app_key_missing": f"Put APP_KEY (base64:...) in SSM as SecureString, then {redeploy}",
        "startup.runtime_dirs_missing": "Create storage/framework/{cache,sessions,views}, storage/logs and "
                                        "bootstrap/cache writable in the image (or a writable volume)",
        "logs.memory_exhausted": "Raise memory_limit / the task memory, or fix the job that loads too much",
        "logs.max_attempts": "Jobs fail repeatedly: read the failed_jobs exceptions (see queue.state)",
        "logs.job_timeout": "Jobs run longer than --timeout: raise it (below retry_after) or split the job",
    }.get(signal, redeploy)
