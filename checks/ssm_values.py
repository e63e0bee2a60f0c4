"""ssm.values — the workers' runtime values in SSM Parameter Store are present and well-formed."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Generator, Iterator
from datetime import datetime
from typing import Any

from doctor.checkapi import CheckContext, check, load_meta
from doctor.model import Finding
from doctor.secret_forms import is_weak
from doctor.util import to_datetime

META = load_meta(__file__)

_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def invalid_reason(key: str, value: str) -> str | None:
    """Why ``value`` is malformed for ``key`` (never echoing a secret), or None."""
    if key.endswith("_HOST"):
        if "://" in value:
            return "contains a URL scheme; a host name is expected"
        if ":" in value:
            return "contains a port; put the port in the matching _PORT parameter"
        if value != value.strip() or " " in value:
            return "contains whitespace"
        if not (_HOST.match(value) or _IPV4.match(value)):
            return "is not a valid host name"
    elif key.endswith("_PORT"):
        if not value.isdigit() or not 0 < int(value) < 65536:
            return "is not a port number (1-65535)"
    elif key == "APP_KEY":
        if not value.startswith("base64:"):
            return "must start with 'base64:' (php artisan key:generate --show)"
        try:
            raw = base64.b64decode(value[7:], validate=True)
        except (binascii.Error, ValueError):
            return "is not valid base64 after 'base64:'"
        if len(raw) != 32:
            return f"decodes to {len(raw)} bytes; AES-256-CBC needs 32"
    elif key == "AWS_BUCKET" and (not _BUCKET.match(value) or ".." in value or _IPV4.match(value)):
        return "is not a valid S3 bucket name"
    return None


def _param_name(value_from: str) -> str | None:
    """SSM parameter name from a secrets[].valueFrom (name or ARN); None for Secrets Manager."""
    if value_from.startswith("arn:"):
        parts = value_from.split(":", 5)
        if len(parts) < 6 or parts[2] != "ssm":
            return None
        resource = parts[5]
        if not resource.startswith("parameter/"):
            return None
        name = resource[len("parameter/"):]
        # the ARN of a hierarchical name drops its leading '/'; a plain name ("DB_PASSWORD") has none
        return "/" + name.lstrip("/") if "/" in name else name
    return value_from


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    cfg = ctx.config
    params = ctx.facts.ssm_parameters()
    values = ctx.facts.ssm_values()
    base = cfg.ssm.path
    problems = 0

    if not params:
        yield ctx.finding("path_empty", base, evidence={"path": base}, path=base)
        return

    for key in cfg.ssm.required:
        name = base + key
        if key not in values:
            problems += 1
            yield ctx.finding("param_missing", name, evidence={"parameter": name, "path": base}, name=name,
                              param_type="SecureString" if ctx.redactor.is_secret_key(key) else "String")
        elif not values[key].strip():
            problems += 1
            yield ctx.finding("param_empty", name, evidence={"parameter": name}, name=name)

    for key, value in sorted(values.items()):
        name = base + key
        reason = invalid_reason(key, value) if value.strip() else None
        if reason:
            problems += 1
            shown = {} if ctx.redactor.is_secret_key(key) else {"value": value}
            yield ctx.finding("value_invalid", name, evidence={"parameter": name, "reason": reason, **shown},
                              name=name, reason=reason)
        p = params.get(name, {})
        if ctx.redactor.is_secret_key(key) and p.get("Type") != "SecureString":
            problems += 1
            yield ctx.finding("secret_not_secure", name, evidence={"parameter": name, "type": p.get("Type")},
                              name=name, param_type=p.get("Type", "?"))
        secret = ctx.redactor.is_secret_key(key) or p.get("Type") == "SecureString"
        if secret and value.strip() and is_weak(value):  # names the parameter, never the value or its shape
            problems += 1
            yield ctx.finding("secret_weak", name, evidence={"parameter": name, "type": p.get("Type")}, name=name)

    problems += yield from _taskdef_refs(ctx, params)
    problems += yield from _newer_than_tasks(ctx, params)

    if problems == 0:
        yield ctx.finding("ok", base, evidence={"parameters": len(params), "required": list(cfg.ssm.required)},
                          count=len(params), path=base)


def _taskdef_refs(ctx: CheckContext, params: dict[str, Any]) -> Generator[Finding, None, int]:
    """Every secrets[].valueFrom in the worker task definitions must name an existing parameter."""
    problems = 0
    refs: dict[str, list[str]] = {}  # parameter name -> ["service/container/SECRET", ...]
    for service in ctx.config.services:
        td = ctx.facts.service_task_definition(service)
        if td is None:
            continue
        for c in td.get("containerDefinitions", []):
            for s in c.get("secrets", []) or []:
                pname = _param_name(s.get("valueFrom", ""))
                if pname:
                    refs.setdefault(pname, []).append(f"{service}/{c['name']}/{s['name']}")
    unresolved = [n for n in refs if n not in params]
    missing: list[str] = []
    ssm = ctx.aws.client("ssm") if unresolved else None
    for i in range(0, len(unresolved), 10):
        assert ssm is not None
        resp = ssm.get_parameters(Names=unresolved[i:i + 10], WithDecryption=False)
        missing.extend(resp.get("InvalidParameters", []))
    for name in missing:
        problems += 1
        users = refs.get(name, [])
        yield ctx.finding("taskdef_ref_missing", name, evidence={"parameter": name, "referenced_by": users},
                          resources=[name, *users], name=name)
    return problems


def _newer_than_tasks(ctx: CheckContext, params: dict[str, Any]) -> Generator[Finding, None, int]:
    problems = 0
    services = ctx.facts.services()
    for service in ctx.config.services:
        if services.get(service) is None:
            continue  # real ECS rejects list_tasks for a missing service; ecs.service reports it
        tasks = ctx.facts.tasks(service, "RUNNING")
        started = [to_datetime(t["startedAt"]) for t in tasks if t.get("startedAt")]
        if not started:
            continue
        oldest: datetime = min(started)
        newer = sorted(n for n, p in params.items() if to_datetime(p.get("LastModifiedDate")) > oldest)
        if newer:
            problems += 1
            yield ctx.finding("newer_than_tasks", service,
                              evidence={"service": service, "parameters": newer,
                                        "oldest_task_started_at": oldest.isoformat()},
                              resources=[service, *newer], count=len(newer), service=service,
                              cluster=ctx.config.ecs.cluster)
    return problems
