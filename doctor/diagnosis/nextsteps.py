"""A supported cause's next steps: its templates filled with the run's real names.

The values come from the target and the config first, then from the findings' evidence
(the cause's supporting findings before all others): security group ids by the key that names
them, hosts, ports, the Aurora writer endpoint, parameters, log groups. A template naming
``{service}``, ``{queue}`` or ``{log_group}`` becomes one command per service the support is about
(every configured service when it names none); one naming ``{param}`` one per parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from doctor.config import Config
from doctor.diagnosis.playbook import Cause
from doctor.diagnosis.templates import fill, placeholders
from doctor.model import Finding, Report

# evidence key fragment -> the SG placeholder it names (first match wins)
_SG_HINTS = (("worker", "worker_sg"), ("source", "worker_sg"), ("redis", "redis_sg"), ("cache", "redis_sg"),
             ("aurora", "aurora_sg"), ("rds", "aurora_sg"), ("db", "aurora_sg"), ("mysql", "aurora_sg"))
_SG_ID = re.compile(r"^sg-[0-9A-Za-z]+$")
_SG_GRANT = re.compile(r"^(sg-[0-9A-Za-z]+)\s*<-\s*(sg-[0-9A-Za-z]+)$")
# keys naming the data store's SG; which store (Redis or Aurora) the finding's kind/signals tell
_DATA_SG_KEYS = ("group_id", "security_group", "security_groups", "sg", "sgs", "group", "target_sg",
                 "data_security_groups", "data_sgs", "store_security_groups")
_EVIDENCE_KEYS = {
    "db_host": ("db_host", "DB_HOST"),
    "redis_host": ("redis_host", "REDIS_HOST"),
    "db_writer": ("writer_endpoint", "db_writer", "writer", "expected_writer", "cluster_endpoint"),
    "db_cluster": ("db_cluster", "cluster_id", "db_cluster_identifier"),
    "redis_group": ("replication_group", "redis_group", "replication_group_id"),
    "bucket": ("bucket",),
    "vpc": ("vpc", "vpc_id"),
    "task_definition": ("task_definition", "taskdef", "task_definition_arn"),
    "log_group": ("log_group", "awslogs_group"),
    "db_port": ("db_port",),
    "redis_port": ("redis_port",),
}


def _flat(evidence: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Evidence items, one level of nesting flattened (a nested key comes as ``outer.key`` and ``key``)."""
    for k, v in evidence.items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                yield f"{k}.{k2}", v2
                yield str(k2), v2
        else:
            yield str(k), v


def _base_context(report: Report, config: Config) -> dict[str, str]:
    ctx: dict[str, str] = {"cluster": report.target.cluster, "ssm_path": config.ssm.path}
    if report.target.region:
        ctx["region"] = report.target.region
    if report.target.account:
        ctx["account"] = report.target.account
    if config.database.cluster:
        ctx["db_cluster"] = config.database.cluster
    if config.database.host:
        ctx["db_host"] = config.database.host
    if config.redis.host:
        ctx["redis_host"] = config.redis.host
    return ctx


def _context(findings: list[Finding], report: Report, config: Config) -> dict[str, str]:
    """Scalar placeholder values: the target and config first, then evidence (supporting findings first)."""
    ctx = _base_context(report, config)
    for f in findings:
        sig = " ".join(f.signals)
        kind = f"{f.evidence.get('kind', '')} {f.evidence.get('store', '')} {sig}".lower()
        writers = f.evidence.get("writer_endpoints")  # dns.resolve: {aurora cluster id: writer endpoint}
        if isinstance(writers, dict):
            live = {k: v for k, v in writers.items() if isinstance(v, str) and v}
            pick = config.database.cluster if config.database.cluster in live else (
                next(iter(live)) if len(live) == 1 else None)
            if pick:
                ctx.setdefault("db_cluster", str(pick))
                ctx.setdefault("db_writer", live[pick])
        if "dns.db_" in sig and isinstance(f.evidence.get("cluster"), str):
            ctx.setdefault("db_cluster", f.evidence["cluster"])
        for k, v in _flat(f.evidence):
            if isinstance(v, list) and v and all(isinstance(x, str) and _SG_GRANT.match(x) for x in v):
                v = v[0]
            if isinstance(v, str) and (m := _SG_GRANT.match(v)):  # "sg-data <- sg-worker" (a grant by SG)
                ctx.setdefault("worker_sg", m.group(2))
                continue
            if isinstance(v, list) and v and all(isinstance(x, str) and _SG_ID.match(x) for x in v):
                v = v[0]  # e.g. worker_security_groups / data_security_groups: the first is the one to name
            if isinstance(v, bool) or not isinstance(v, str | int) or str(v) == "":
                continue
            _take(ctx, k, v, sig, kind, config)
    return ctx


def _take(ctx: dict[str, str], k: str, v: str | int, sig: str, kind: str, config: Config) -> None:
    """Record what one scalar evidence item names (first value wins for each placeholder)."""
    sv, kl = str(v), k.lower()
    is_sg = bool(_SG_ID.match(sv))
    if is_sg and k in config.services:  # e.g. granted_by: {service: [worker SG]}
        ctx.setdefault("worker_sg", sv)
    elif is_sg:
        for hint, ph in _SG_HINTS:
            if hint in kl:
                ctx.setdefault(ph, sv)
                break
        else:
            if kl in _DATA_SG_KEYS:
                if "redis" in kind:
                    ctx.setdefault("redis_sg", sv)
                elif "aurora" in kind or "mysql" in kind:
                    ctx.setdefault("aurora_sg", sv)
    for ph, keys in _EVIDENCE_KEYS.items():
        if k in keys or kl in keys:
            ctx.setdefault(ph, sv)
    if kl in ("host", "name", "hostname") and isinstance(v, str) and "." in sv:
        if "db" in sig or "aurora" in sig:
            ctx.setdefault("db_host", sv)
        elif "redis" in sig:
            ctx.setdefault("redis_host", sv)
    if kl == "port" and sv.isdigit():
        if "aurora" in sig or ".db_" in sig:
            ctx.setdefault("db_port", sv)
        elif "redis" in sig:
            ctx.setdefault("redis_port", sv)


def _services(findings: list[Finding], config: Config) -> list[str]:
    """The configured services the findings name (resources, evidence values, ``task:<service>`` vantages)."""
    known = list(config.services)
    out: list[str] = []
    for f in findings:
        cands: list[str] = list(f.resources)
        for k, v in _flat(f.evidence):
            if isinstance(v, str):
                cands.append(v.removeprefix("task:") if k in ("vantage", "from") else v)
            elif isinstance(v, list) and k in ("services", "service"):
                cands.extend(str(x) for x in v)
        for c in cands:
            if c in known and c not in out:
                out.append(c)
    return out


def _params(findings: list[Finding], config: Config) -> list[str]:
    """The SSM parameter names the findings name (resources under the SSM path, evidence values)."""
    out: list[str] = []
    base = config.ssm.path
    for f in findings:
        cands: list[str] = [r for r in f.resources if r.startswith(base)]
        for k, v in _flat(f.evidence):
            if k in ("parameter", "param") and isinstance(v, str):
                cands.append(v)
            elif k in ("parameters", "params") and isinstance(v, list):
                cands.extend(str(x) for x in v)
        for c in cands:
            if c.startswith("/") and c not in out:
                out.append(c)
    return out


def next_steps(cause: Cause, support: list[Finding], report: Report, config: Config) -> list[str]:
    """The cause's next steps filled from the run, in template order, without repeats."""
    everything = support + [f for _, f in report.findings() if f not in support]
    ctx = _context(everything, report, config)
    services = _services(support, config) or list(config.services)
    params = _params(support, config)
    groups: dict[str, str] = {}  # service -> its awslogs group, from any finding that names both
    for f in everything:
        svc, grp = f.evidence.get("service"), f.evidence.get("log_group")
        if isinstance(svc, str) and isinstance(grp, str) and grp:
            groups.setdefault(svc, grp)
    steps: list[str] = []
    for tmpl in cause.next_steps:
        names = set(placeholders(tmpl))
        rows: list[dict[str, str]] = [dict(ctx)]
        if names & {"service", "queue", "log_group"} and services:
            rows = []
            for s in services:
                row = dict(ctx, service=s)
                row["log_group"] = groups.get(s) or (ctx["log_group"] if len(services) == 1 and "log_group" in ctx
                                                     else f"/ecs/{s}")
                queue = config.services.get(s)
                if queue:
                    row["queue"] = queue
                rows.append(row)
        if "param" in names and params:
            rows = [dict(r, param=p) for r in rows for p in params]
        for row in rows:
            step = fill(tmpl, row)
            if step not in steps:
                steps.append(step)
    return steps
