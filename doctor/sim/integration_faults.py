"""The demo's faults in the two optional integrations (:mod:`doctor.sim.controller`): a controller that cannot
wake a service, and a fresh Sentry burst next to stale history. Each injects the fault the way it happens."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from doctor.sim.cloudtrail import changed
from doctor.sim.controller import (
    FUNCTION,
    ROLE,
    SENTRY_PROJECT,
    put_controller_log,
    put_invocations,
    set_role_actions,
)
from doctor.sim.platform import PREFIX, SimPlatform


def _job(queue: str, n: int, created: float) -> str:
    """A Laravel >= 12.11 payload (with createdAt), as the web tier pushes it."""
    return json.dumps({"uuid": f"00000000-0000-0000-0001-{n:012d}", "displayName": "App\\Jobs\\ResizeImage",
                       "job": "Illuminate\\Queue\\CallQueuedHandler@call", "maxTries": 3, "timeout": 60,
                       "data": {"commandName": "App\\Jobs\\ResizeImage", "command": "O:0:{}"},
                       "id": f"wake{n}", "attempts": 0, "queue": queue, "createdAt": int(created)})


@changed(minutes=45)
def scaler_not_waking(p: SimPlatform) -> None:
    """The controller's role lost ecs:UpdateService: every invocation fails, and image, drained to 0 when it was
    idle, stays at 0 while its backlog grows."""
    assert p.controller is not None
    w = p.w
    set_role_actions(p.session, w, p.controller, ["ecs:DescribeServices"])
    put_invocations(p.session, w, 20, errors=20)
    service = w.services["image"]
    denied = ("[ERROR] ClientError: An error occurred (AccessDeniedException) when calling the UpdateService "
              f"operation: User: arn:aws:sts::123456789012:assumed-role/{ROLE}/{FUNCTION} is not authorized to "
              f"perform: ecs:UpdateService on resource: arn:aws:ecs:{w.spec.region}:123456789012:service/"
              f"{w.spec.cluster}/{service}")
    put_controller_log(p.session, w, [line for _ in range(3) for line in (
        "[INFO] queues: image ready=25 desired=0 -> waking image to 1", denied)])
    p.session.client("ecs").update_service(cluster=w.spec.cluster, service=service, desiredCount=0)
    for arn in w.tasks[service]:
        p.stop_task(arn, "Scaling activity initiated by (deployment ecs-svc/1)", "ServiceSchedulerInitiated", 0,
                    ago=timedelta(minutes=40))
    now = time.time()
    p.redis.client(0).rpush(f"{PREFIX}queues:image", *[_job("image", n, now - 1200 + 45 * n) for n in range(25)])


@changed(minutes=14)
def sentry_burst(p: SimPlatform) -> None:
    """The Redis primary fails over: connections from the workers hang, and Sentry shows a fresh burst of
    RedisException timeouts from the image workers next to last week's database timeouts (fixed since, still
    unresolved in Sentry: stale)."""
    assert p.sentry is not None
    w = p.w
    p.drop_path(w.redis_host, "127.0.0.3", p.redis.port)
    p.record_change("TestFailover", "elasticache", {"replicationGroupId": w.redis_group, "nodeGroupId": "0001"})
    burst = p.sentry.add_issue(
        SENTRY_PROJECT, f"RedisException: Connection timed out [tcp://{w.redis_host}:6379]",
        culprit="Illuminate\\Queue\\RedisQueue::pop", error_type="RedisException",
        error_value=f"Connection timed out [tcp://{w.redis_host}:6379]")
    for minutes in range(1, 13):
        p.sentry.add_event(burst, datetime.now(UTC) - timedelta(minutes=minutes), count=3, tags={"queue": "image"})
