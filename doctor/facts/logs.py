"""The workers' CloudWatch log streams (awslogs): where a task's lines are, and its recent lines, fetched once per run.

A container logging with the ``awslogs`` driver writes task ``<id>`` to the stream
``<awslogs-stream-prefix>/<container>/<id>`` of its ``awslogs-group``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from doctor.aws import error_code

if TYPE_CHECKING:
    from doctor.facts.core import Facts

RECENT_EVENTS = 500  # the newest events read from one stream


def awslogs_config(td: dict[str, Any], container: str | None) -> tuple[str, str] | None:
    """(log group, stream prefix) of the container's awslogs configuration; None when it logs otherwise."""
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


def task_stream(prefix: str, container: str | None, task: dict[str, Any]) -> str:
    task_id = str(task.get("taskArn", "")).rsplit("/", 1)[-1]
    return f"{prefix}/{container}/{task_id}" if prefix else f"{container}/{task_id}"


def recent_events(facts: Facts, group: str, stream: str, since: datetime) -> list[tuple[float, str]]:
    """The newest :data:`RECENT_EVENTS` events of a stream since ``since``, oldest first, as ``(epoch seconds,
    message)``; [] when the stream does not exist. Access denied propagates."""

    def fetch() -> list[tuple[float, str]]:
        try:
            resp = facts.aws.client("logs").get_log_events(
                logGroupName=group, logStreamName=stream, startTime=int(since.timestamp() * 1000),
                startFromHead=False, limit=RECENT_EVENTS)
        except Exception as e:
            if error_code(e) == "ResourceNotFoundException":
                return []
            raise
        return [(int(ev.get("timestamp", 0)) / 1000, str(ev.get("message", ""))) for ev in resp.get("events", [])]

    return facts.memo(("logs.recent", group, stream, int(since.timestamp())), fetch)
