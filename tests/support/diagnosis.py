"""Synthetic reports for the diagnosis tests: one finding per signal, every check present (no servers)."""

from __future__ import annotations

from typing import Any

from doctor import registry
from doctor.config import Config
from doctor.diagnosis import diagnose
from doctor.model import (
    CauseState,
    CheckResult,
    CheckStatus,
    Finding,
    PlaybookResult,
    QueueTarget,
    Report,
    RunInfo,
    Severity,
    Target,
    ToolInfo,
)

CHECK_OF = {  # signal prefix -> the check that emits it
    "ssm": "ssm.values", "sg": "sg.ingress", "dns": "dns.resolve", "s3": "s3.access", "startup": "ecs.startup",
    "logs": "ecs.startup", "drift": "env.drift", "ecs": "ecs.service", "queue": "queue.state",
    "net": "net.egress", "exec": "exec.ready", "probe": "reach.redis", "scaler": "scaler.controller",
    "sentry": "sentry.errors",
}
CLUSTER = "propertyfeedtemplate-production"
SERVICES = {"sync": "propertyfeedtemplate-sync", "image": "propertyfeedtemplate-image",
            "bulk": "propertyfeedtemplate-bulk"}
OK_SIGNALS = ["ssm.ok", "sg.redis_ok", "sg.aurora_ok", "dns.db_ok", "dns.redis_ok", "reach.redis_ok@task",
              "reach.redis_ok@host", "reach.aurora_ok@task", "reach.aurora_ok@host", "s3.ok", "startup.ok",
              "drift.ok", "ecs.steady", "queue.draining"]


def check_of(signal: str) -> str:
    ns, _, rest = signal.partition(".")
    if ns == "reach":
        return "reach.redis" if rest.startswith("redis") else "reach.aurora"
    return CHECK_OF[ns]


def make_report(signals: list[str], statuses: dict[str, str] | None = None, *,
                evidence: dict[str, dict[str, Any]] | None = None,
                resources: dict[str, list[str]] | None = None) -> Report:
    """One finding per signal (``sig`` or ``sig@task`` / ``sig@host``; ``@task`` is task:<sync service>).

    Every contract check is present with status pass (warn/fail if a finding says so) unless
    ``statuses`` says otherwise ('missing' drops the check from the report)."""
    statuses = statuses or {}
    evidence = evidence or {}
    resources = resources or {}
    by_check: dict[str, list[Finding]] = {c: [] for c in registry.check_ids()}
    for n, spec in enumerate(signals):
        sig, _, vantage = spec.partition("@")
        ok = sig.endswith("_ok") or sig in ("ecs.steady", "queue.draining", "startup.ok", "drift.ok", "s3.ok", "ssm.ok")
        ev: dict[str, Any] = dict(evidence.get(spec, {}))
        if vantage:
            ev.setdefault("vantage", "host" if vantage == "host" else f"task:{SERVICES['sync']}")
        cid = check_of(sig)
        by_check[cid].append(Finding(
            uid=f"{cid}:{sig.split('.', 1)[1]}:{vantage or 'x'}{n}",
            severity=Severity.info if ok else Severity.error, title=spec, evidence=ev,
            resources=resources.get(spec, []), signals=[sig]))
    checks = []
    for order, cid in enumerate(registry.check_ids(), 1):
        st = statuses.get(cid)
        if st == "missing":
            continue
        findings = by_check[cid]
        status = CheckStatus(st) if st else (
            CheckStatus.fail if any(f.severity.rank >= Severity.error.rank for f in findings) else CheckStatus.passed)
        checks.append(CheckResult(id=cid, title=cid, order=order, status=status, findings=findings))
    return Report(tool=ToolInfo(version="test"), run=RunInfo(id="r", started_at="2026-01-01T00:00:00+00:00"),
                  target=Target(cluster=CLUSTER, region="eu-west-1", account="123456789012",
                                queues={q: QueueTarget(service=s) for q, s in SERVICES.items()}),
                  checks=checks)


def run(signals: list[str], statuses: dict[str, str] | None = None, **kw: Any) -> list[PlaybookResult]:
    return diagnose(make_report(signals, statuses, **kw), Config())


def cause(books: list[PlaybookResult], cause_id: str) -> Any:
    for b in books:
        for c in b.causes:
            if c.id == cause_id:
                return c
    raise AssertionError(f"no cause {cause_id}")


def book(books: list[PlaybookResult], playbook_id: str) -> PlaybookResult:
    return next(b for b in books if b.id == playbook_id)


C, L, P, R, U = (CauseState.confirmed, CauseState.likely, CauseState.possible, CauseState.ruled_out,
                 CauseState.unknown)

SG_EVIDENCE = {"sg.redis_ingress_missing": {"redis_sg": "sg-0redis", "worker_sg": "sg-0worker", "port": 6379,
                                            "service": SERVICES["image"]}}
