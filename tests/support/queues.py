"""Shared helpers for the queue.state tests: Laravel-shaped payloads, running the check, finding lookup."""

from __future__ import annotations

import json
import uuid
from typing import Any

from doctor.model import CheckResult

from support.ecs_helpers import REGION, run_check

PREFIX = "propertyfeedtemplate_database_"
CLUSTER = "propertyfeedtemplate-production"


def job(name: str = "App\\Jobs\\ResizeImage", attempts: int = 0, max_tries: int | None = 3,
        created: float | None = None, pushed: str | None = None) -> str:
    payload: dict[str, Any] = {
        "uuid": str(uuid.uuid4()), "displayName": name, "job": "Illuminate\\Queue\\CallQueuedHandler@call",
        "maxTries": max_tries, "maxExceptions": None, "failOnTimeout": False, "backoff": None, "timeout": None,
        "retryUntil": None, "data": {"commandName": name, "command": "O:8:\"stdClass\":0:{}"},
        "id": uuid.uuid4().hex, "attempts": attempts,
    }
    if created is not None:
        payload["createdAt"] = int(created)
    if pushed is not None:
        payload["pushedAt"] = pushed
    return json.dumps(payload)


def check(q: dict[str, Any], **cfg: Any) -> CheckResult:
    cfg.setdefault("exec", {"transport": "off"})
    return run_check("queue.state", dns=q["dns"], **cfg)


def finding(result: CheckResult, kind: str, resource: str) -> Any:
    uid = f"queue.state:{kind}:{resource}"
    match = [f for f in result.findings if f.uid == uid]
    assert match, f"no {uid} in {[f.uid for f in result.findings]} ({result.summary})"
    return match[0]


def new_revision(session: Any, service: str, command: list[str], env: dict[str, str] | None = None) -> None:
    ecs = session.client("ecs", region_name=REGION)
    svc = ecs.describe_services(cluster=CLUSTER, services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    container = dict(td["containerDefinitions"][0], command=command)
    if env:
        container["environment"] = [*container.get("environment", []),
                                    *({"name": k, "value": v} for k, v in env.items())]
    arn = ecs.register_task_definition(
        family=td["family"], networkMode=td["networkMode"], requiresCompatibilities=td["requiresCompatibilities"],
        cpu=td["cpu"], memory=td["memory"], executionRoleArn=td["executionRoleArn"], taskRoleArn=td["taskRoleArn"],
        containerDefinitions=[container])["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=CLUSTER, service=service, taskDefinition=arn)
