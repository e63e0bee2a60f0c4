"""ssm.values — the workers' runtime values in SSM Parameter Store are present and well-formed."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Generator, Iterator
from datetime import datetime
from typing import Any

from doctor.checkapi import CheckContext, CheckMeta, check
from doctor.facts import _ts
from doctor.model import Finding

META = CheckMeta(
    id="ssm.values",
    title="SSM runtime values exist, are well-formed and current",
    order=1,
    proves="Every required parameter under the SSM path exists and is non-empty; hosts, ports, APP_KEY and the "
    "bucket name are well-formed; secret-looking keys are SecureString; every secrets[].valueFrom in the worker "
    "task definitions names an existing parameter; no parameter changed after the running tasks started.",
    why="Workers read their DB, Redis and S3 settings from SSM at task start. A missing parameter stops a Fargate "
    "task with ResourceInitializationError before Laravel boots; a malformed host makes every job fail at once; "
    "a value fixed in SSM does nothing until the tasks are redeployed.",
    remediation="Put the missing or corrected value with `aws ssm put-parameter --name <path><KEY> --type "
    "SecureString --overwrite`, then `aws ecs update-service --force-new-deployment` for each worker service.",
    iam_actions=("ssm:GetParametersByPath", "ssm:GetParameters", "kms:Decrypt", "ecs:DescribeServices",
                 "ecs:DescribeTaskDefinition", "ecs:ListTasks", "ecs:DescribeTasks"),
    needs=("aws",),
)

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
        yield ctx.legacy_finding("path_empty", base, "critical", f"No SSM parameters under {base}",
                          detail="The path holds no parameters; workers would start with no DB/Redis settings.",
                          evidence={"path": base}, signals=["ssm.param_missing"])
        return

    for key in cfg.ssm.required:
        name = base + key
        if key not in values:
            problems += 1
            yield ctx.legacy_finding("param_missing", name, "error", f"Required parameter {name} is missing",
                              evidence={"parameter": name, "path": base}, signals=["ssm.param_missing"],
                              remediation=f"aws ssm put-parameter --name {name} --type "
                              f"{'SecureString' if ctx.redactor.is_secret_key(key) else 'String'} --value ...")
        elif not values[key].strip():
            problems += 1
            yield ctx.legacy_finding("param_empty", name, "error", f"Parameter {name} is empty",
                              evidence={"parameter": name}, signals=["ssm.param_empty"],
                              remediation=f"aws ssm put-parameter --name {name} --overwrite --value ...")

    for key, value in sorted(values.items()):
        name = base + key
        reason = invalid_reason(key, value) if value.strip() else None
        if reason:
            problems += 1
            shown = {} if ctx.redactor.is_secret_key(key) else {"value": value}
            yield ctx.legacy_finding("value_invalid", name, "error", f"{name} {reason}",
                              evidence={"parameter": name, "reason": reason, **shown},
                              signals=["ssm.value_invalid"],
                              remediation=f"aws ssm put-parameter --name {name} --overwrite --value <corrected>")
        p = params.get(name, {})
        if ctx.redactor.is_secret_key(key) and p.get("Type") != "SecureString":
            problems += 1
            yield ctx.legacy_finding("secret_not_secure", name, "warning",
                              f"{name} looks secret but is stored as {p.get('Type', '?')}",
                              evidence={"parameter": name, "type": p.get("Type")},
                              signals=["ssm.secret_not_secure"],
                              remediation=f"Re-create {name} as SecureString: aws ssm put-parameter --name {name} "
                              "--type SecureString --overwrite --value ... (then redeploy the services)")

    problems += yield from _taskdef_refs(ctx, params)
    problems += yield from _newer_than_tasks(ctx, params)

    if problems == 0:
        yield ctx.legacy_finding("ok", base, "info", f"{len(params)} parameters under {base} look right",
                          evidence={"parameters": len(params), "required": list(cfg.ssm.required)},
                          signals=["ssm.ok"], remediation="")


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
        yield ctx.legacy_finding("taskdef_ref_missing", name, "critical",
                          f"Task definition secret points at missing parameter {name}",
                          detail="Fargate fails to start the task (ResourceInitializationError: unable to pull "
                          "secrets) before any worker code runs.",
                          evidence={"parameter": name, "referenced_by": users},
                          resources=[name, *users], signals=["ssm.taskdef_ref_missing"],
                          remediation=f"Create {name} (aws ssm put-parameter --name {name} --type SecureString "
                          "--value ...) or fix the valueFrom in the task definition and redeploy.")
    return problems


def _newer_than_tasks(ctx: CheckContext, params: dict[str, Any]) -> Generator[Finding, None, int]:
    problems = 0
    services = ctx.facts.services()
    for service in ctx.config.services:
        if services.get(service) is None:
            continue  # real ECS rejects list_tasks for a missing service; ecs.service reports it
        tasks = ctx.facts.tasks(service, "RUNNING")
        started = [_ts(t["startedAt"]) for t in tasks if t.get("startedAt")]
        if not started:
            continue
        oldest: datetime = min(started)
        newer = sorted(n for n, p in params.items() if _ts(p.get("LastModifiedDate")) > oldest)
        if newer:
            problems += 1
            cluster = ctx.config.ecs.cluster
            yield ctx.legacy_finding("newer_than_tasks", service, "error",
                              f"{len(newer)} parameter(s) changed after {service}'s running tasks started",
                              detail="The running tasks still hold the old values; they pick up the new ones "
                              "only after a new deployment.",
                              evidence={"service": service, "parameters": newer,
                                        "oldest_task_started_at": oldest.isoformat()},
                              resources=[service, *newer], signals=["ssm.newer_than_tasks"],
                              remediation=f"aws ecs update-service --cluster {cluster} --service {service} "
                              "--force-new-deployment")
    return problems
