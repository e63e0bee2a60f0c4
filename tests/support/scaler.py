"""Test helpers for scaler.controller: answer the AWS calls moto does not implement, from moto's own state.

- ``iam:SimulatePrincipalPolicy``: decided from the role's inline policies in moto (Allow statements,
  ``*`` wildcards in actions and resources) — what real IAM says for such simple policies.
- ``application-autoscaling:DescribeScalingActivities``: the activities a test gives.
"""

from __future__ import annotations

import fnmatch
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from doctor.aws import AwsSession


class _Http:
    status_code = 200
    headers: dict[str, str] = {}


def answer(monkeypatch: pytest.MonkeyPatch, service: str, operation: str,
           respond: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """The doctor's ``service`` client answers ``operation`` with ``respond(api_params)`` instead of calling AWS
    (botocore: a ``before-call`` handler's response short-circuits the request)."""
    original = AwsSession.client

    def client(self: AwsSession, name: str) -> Any:
        c = original(self, name)
        if name == service:
            event = c.meta.service_model.service_id.hyphenize()
            local = threading.local()

            def keep(params: dict[str, Any], **_: Any) -> None:
                local.params = dict(params)

            def respond_now(**_: Any) -> tuple[_Http, dict[str, Any]]:
                return _Http(), respond(getattr(local, "params", {}))

            c.meta.events.register(f"provide-client-params.{event}.{operation}", keep, unique_id=f"keep-{operation}")
            c.meta.events.register(f"before-call.{event}.{operation}", respond_now, unique_id=f"answer-{operation}")
        return c

    monkeypatch.setattr(AwsSession, "client", client)


def simulate_from_moto(monkeypatch: pytest.MonkeyPatch, session: Any) -> None:
    """iam:SimulatePrincipalPolicy evaluated against the role's inline policies as moto stores them."""
    iam = session.client("iam")

    def evaluate(params: dict[str, Any]) -> dict[str, Any]:
        role = str(params["PolicySourceArn"]).rsplit("/", 1)[-1]
        statements: list[dict[str, Any]] = []
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            doc = json.loads(doc) if isinstance(doc, str) else doc
            statements += doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
        results = []
        for action in params["ActionNames"]:
            per_resource = []
            for resource in params.get("ResourceArns") or ["*"]:
                allowed = any(s.get("Effect") == "Allow" and _matches(s.get("Action"), action)
                              and _matches(s.get("Resource"), resource) for s in statements)
                per_resource.append({"EvalResourceName": resource,
                                     "EvalResourceDecision": "allowed" if allowed else "implicitDeny"})
            allowed_all = all(r["EvalResourceDecision"] == "allowed" for r in per_resource)
            results.append({"EvalActionName": action, "EvalDecision": "allowed" if allowed_all else "implicitDeny",
                            "ResourceSpecificResults": per_resource})
        return {"EvaluationResults": results, "IsTruncated": False}

    answer(monkeypatch, "iam", "SimulatePrincipalPolicy", evaluate)


def _matches(patterns: Any, value: str) -> bool:
    items = patterns if isinstance(patterns, list) else [patterns]
    return any(fnmatch.fnmatchcase(value, str(p)) for p in items if p is not None)
