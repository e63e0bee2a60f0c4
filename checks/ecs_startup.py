"""ecs.startup — why worker tasks stop: classified stop reasons, exit codes and startup log lines."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from doctor.aws import denied_action, error_code
from doctor.checkapi import CheckContext, check, load_meta
from doctor.facts.logs import awslogs_config, task_stream
from doctor.model import Finding
from doctor.redact import clip
from doctor.signatures import LogHit, StopClass, classify_stop, essential_exit_code, scan
from doctor.util import to_datetime

META = load_meta(__file__)

MAX_LOG_PAGES = 3        # per stream
LOG_PAGE_LIMIT = 500     # events per page
MAX_GROUPS_SHOWN = 5


def _task_id(task: dict[str, Any]) -> str:
    return str(task.get("taskArn", "")).rsplit("/", 1)[-1]


def _latest(tasks: list[dict[str, Any]], field: str) -> dict[str, Any]:
    """The task with the newest ``field`` (its ``createdAt`` when unset)."""
    return max(tasks, key=lambda t: to_datetime(t.get(field) or t.get("createdAt")))


def _essential(td: dict[str, Any] | None) -> set[str]:
    return {c["name"] for c in (td or {}).get("containerDefinitions", []) if c.get("essential", True)}


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
    problems = 0
    examined = {"stopped_tasks": 0, "stopped_before_current_deployment": 0, "log_streams": 0, "log_lines": 0}

    for service in cfg.services:
        if services.get(service) is None:
            continue  # ecs.service reports a missing service
        td = ctx.facts.service_task_definition(service)
        essential = _essential(td)
        image = next((c.get("image") for c in (td or {}).get("containerDefinitions", [])), "<image>")
        role = (td or {}).get("executionRoleArn", "<execution role>")
        # judged since the current deployment (within the window): earlier failures belong to a replaced one
        start_ms = int(ctx.facts.judged_since(service).timestamp() * 1000)
        stopped, earlier = ctx.facts.stopped_tasks(service)
        examined["stopped_tasks"] += len(stopped)
        examined["stopped_before_current_deployment"] += len(earlier)

        # --- stopped tasks, grouped by class -> (stopCode, reason, exit code) --------------------
        by_kind: dict[str, tuple[StopClass, dict[tuple[str, str, int | None], list[str]]]] = {}
        for t in stopped:
            cls = classify_stop(t, essential)
            reason = str(t.get("stoppedReason") or "")
            creasons = [str(c.get("reason")) for c in t.get("containers", []) or [] if c.get("reason")]
            if creasons:
                reason = f"{reason} | {'; '.join(creasons)}" if reason else "; ".join(creasons)
            key = (str(t.get("stopCode") or ""), clip(reason, 300), essential_exit_code(t, essential))
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
            yield ctx.finding(kind, service, evidence=evidence, resources=[service], service=service, count=count,
                              what=cls.title, cause_detail=cls.cause_detail, cluster=cluster, image=image, role=role)

        # --- logs of the newest stopped and the newest running task ------------------------------
        if td is None:
            continue
        container = ctx.facts.container_name(td)
        awslogs = awslogs_config(td, container)
        if awslogs is None:
            ctx.unknown(f"{service}: the container does not log with awslogs; startup logs not read",
                        unlock="awslogs logConfiguration in the task definition")
            continue
        group, prefix = awslogs
        running = ctx.facts.tasks(service, "RUNNING")
        newest: list[tuple[str, dict[str, Any]]] = []
        if stopped:
            newest.append(("stopped", _latest(stopped, "stoppedAt")))
        if running:
            newest.append(("running", _latest(running, "startedAt")))
        hits: dict[str, tuple[LogHit, str]] = {}
        total_lines = 0
        read_any = False
        for which, task in newest:
            stream = task_stream(prefix, container, task)
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
            yield ctx.finding(f"log_{signal.split('.', 1)[1]}", service,
                              evidence={"service": service, "log_group": group, "where": where,
                                        "lines": hit.count, "sample": hit.sample},
                              resources=[service, group], service=service, what=hit.title, lines=hit.count,
                              where=where, cluster=cluster)
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
                yield ctx.finding("log_group_missing", service, evidence={"service": service, "log_group": group},
                                  resources=[service, group], service=service, group=group)
            elif channel != "stderr":
                problems += 1
                yield ctx.finding("logs_empty", service,
                                  evidence={"service": service, "log_group": group, "LOG_CHANNEL": channel,
                                            "streams_read": [w for w, _ in newest]},
                                  resources=[service, group], service=service,
                                  group=group,
                                  channel=channel if channel is not None else "unset (Laravel default: stack -> file)")
            else:  # LOG_CHANNEL=stderr: the workers were idle, or their output does not reach CloudWatch
                yield ctx.finding("logs_empty", service, evidence={"service": service, "log_group": group},
                                  resources=[service, group], variant="quiet", service=service, group=group,
                                  window=cfg.run.window_minutes)
        elif not read_any and newest:
            ctx.unknown(f"{service}: no log stream found for the newest tasks in {group}")

    if problems == 0:
        yield ctx.finding("ok", cluster, evidence={**examined, "window_minutes": cfg.run.window_minutes},
                          window=cfg.run.window_minutes)
