"""A root cause's scope as resource tokens: the resources its evidence findings name (security groups,
parameters, endpoint hosts -> their Aurora cluster or Redis group, services), and for its services what
matters to that kind of cause — how a task starts (revision, roles) for startup and queue causes, what
its packets cross (security groups, subnet NACLs) for network causes, the scaler for queue causes."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from doctor.config import Config
from doctor.model import Finding, Report, RootCause
from doctor.timeline.context import ServiceContext
from doctor.timeline.tokens import NACL_ID, SG_ID, arn_token, describe, host_tokens, role_name, token

NETWORK = ("reach.", "sg.", "net.", "dns.", "s3.")
STARTUP = ("ecs.", "ssm.", "exec.")
QUEUE = ("queue.", "env.", "sentry.", "scaler.")
STORE_KIND = {"redis": "cache", "aurora": "db-cluster"}
_HOSTISH = re.compile(r"^[a-z0-9][a-z0-9.-]+\.amazonaws\.com(?::\d+)?$")


@dataclass
class Scope:
    tokens: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)
    signals: set[str] = field(default_factory=set)
    labels: dict[str, str] = field(default_factory=dict)  # token -> how the evidence names it ("Redis SG sg-0abc")

    def label(self, tok: str) -> str:
        return self.labels.get(tok) or describe(tok)


def scope_of(rc: RootCause, report: Report, contexts: dict[str, ServiceContext], config: Config,
             scaler: Sequence[str] = ()) -> Scope:
    found = {f.uid: (c.id, f) for c, f in report.findings()}
    out = Scope()
    out.services = set(rc.scope.services)
    out.services |= {s for q in rc.scope.queues if (s := config.service_for(q))}
    families: set[str] = set()
    for uid in rc.evidence:
        if uid not in found:
            continue
        check_id, f = found[uid]
        families |= {name for name, prefixes in (("network", NETWORK), ("startup", STARTUP), ("queue", QUEUE))
                     if check_id.startswith(prefixes)}
        out.signals |= set(f.signals)
        out.services |= services_named(f, set(config.services))
        out.tokens |= evidence_tokens(f, config.ssm.path)
        out.labels.update(labels(f.evidence))
    for name in out.services:
        ctx = contexts.get(name) or ServiceContext(name)
        out.tokens.add(token("service", name))
        if families & {"startup", "queue"}:
            out.tokens |= set(ctx.startup_tokens())
        if "network" in families:
            out.tokens |= set(ctx.network_tokens())
    if "queue" in families:
        out.tokens |= set(scaler)
    return out


def services_named(f: Finding, configured: set[str]) -> set[str]:
    """The configured services a finding is about (its evidence, its resources, a ``task:<service>`` vantage)."""
    named = {str(f.evidence.get("service") or "")} | {str(s) for s in f.evidence.get("services") or []}
    for r in f.resources + [str(f.evidence.get("vantage") or "")]:
        named.add(r.removeprefix("task:"))
    return named & configured


def evidence_tokens(f: Finding, ssm_path: str) -> set[str]:
    out: set[str] = set()
    for value in [*f.resources, *_strings(f.evidence)]:
        if SG_ID.match(value):
            out.add(token("sg", value))
        elif NACL_ID.match(value):
            out.add(token("nacl", value))
        elif value.startswith(ssm_path):
            out.add(token("param", value))
        elif (arn := arn_token(value)) is not None:
            out.add(arn)
        elif _HOSTISH.match(value.lower()):
            out |= set(host_tokens(value))
    ev = f.evidence
    if isinstance(ev.get("function"), str):
        out.add(token("function", ev["function"]))
    if isinstance(ev.get("role"), str):
        out.add(token("role", role_name(ev["role"])))
    if ev.get("kind") in STORE_KIND and isinstance(ev.get("store"), str):
        out.add(token(STORE_KIND[ev["kind"]], ev["store"]))
    if isinstance(ev.get("replication_group"), str):
        out.add(token("cache", ev["replication_group"]))
    return out


def labels(evidence: dict[str, Any]) -> dict[str, str]:
    """What the evidence calls a security group: the Redis / Aurora SG, the worker SG."""
    out = {}
    kind = evidence.get("kind")
    if kind in STORE_KIND:
        for sg in evidence.get("data_security_groups") or []:
            out[token("sg", str(sg))] = f"{'Redis' if kind == 'redis' else 'Aurora'} SG {sg}"
    for sg in evidence.get("worker_security_groups") or []:
        out[token("sg", str(sg))] = f"worker SG {sg}"
    return out


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)
