"""Matching a report's findings against a cause's signal expressions, and the cause's state.

A cause's state:

- ``confirmed`` / ``likely`` / ``possible``: the strongest tier with a matching expression; when a
  rule-out expression also matches (conflicting evidence) the state drops one tier;
- ``ruled-out``: nothing supports it and a rule-out expression matched, or every check that could
  show it completed (pass/warn/fail) without showing it;
- ``unknown``: nothing supports it and some check that could show it was unknown, error,
  skipped or not run — unknown is never presented as ruled out.

Findings have a scope: the queue they are about (a service counts as its queue), or none when they
are about the whole platform. An expression holds within one scope (platform-wide findings combine
with any queue), and evidence about one queue never refutes a problem on another. Each cause is
assessed on its own; which causes explain which is :mod:`doctor.diagnosis.causal`'s business.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass

from doctor.config import Config
from doctor.diagnosis.playbook import TIERS, Cause, Expr, Playbook, Term
from doctor.model import CauseState, CheckStatus, Finding, Report

TIER_STATE = {"confirm": CauseState.confirmed, "likely": CauseState.likely, "possible": CauseState.possible}
TIER_SCORE = {"confirm": 0.9, "likely": 0.6, "possible": 0.3}
DOWNGRADE = {CauseState.confirmed: CauseState.likely, CauseState.likely: CauseState.possible,
             CauseState.possible: CauseState.possible}
COMPLETED = (CheckStatus.passed, CheckStatus.warn, CheckStatus.fail)


def vantage_of(f: Finding) -> str | None:
    """'task' or 'host' (from the finding's evidence), or None when it does not say."""
    for key in ("vantage", "from", "vantage_point"):
        v = f.evidence.get(key)
        if isinstance(v, str) and v:
            return "host" if v.strip().lower() in ("host", "doctor", "local-host") else "task"
    return None


class Index:
    """Findings by signal, each with its scope: the queue it is about (a service counts as its queue),
    or None when it is about the whole platform (an SG, a DNS name, the SSM path, the cluster)."""

    def __init__(self, report: Report, config: Config | None = None) -> None:
        config = config or Config()
        self.queue_of: dict[str, str] = {q: q for q in config.queues} | {"default": "default"}
        self.queue_of.update(config.services)
        self.queue_of.update({q.service: name for name, q in report.target.queues.items()})
        self.by_signal: dict[str, list[Finding]] = {}
        self.scopes: dict[str, str | None] = {}
        for _, f in report.findings():
            self.scopes[f.uid] = self._scope(f)
            for sig in f.signals:
                self.by_signal.setdefault(sig, []).append(f)
        self.status = {c.id: c.status for c in report.checks}

    def _scope(self, f: Finding) -> str | None:
        ev = f.evidence
        for key in ("queue", "service"):
            v = ev.get(key)
            if isinstance(v, str) and v in self.queue_of:
                return self.queue_of[v]
        v = ev.get("vantage")
        if isinstance(v, str) and v.startswith("task:") and v[5:] in self.queue_of:
            return self.queue_of[v[5:]]
        resource = f.uid.split(":", 2)[2] if f.uid.count(":") >= 2 else ""
        resource = resource.removeprefix("task:")
        return self.queue_of.get(resource)

    def scope(self, f: Finding) -> str | None:
        return self.scopes.get(f.uid)

    def queues(self, f: Finding) -> frozenset[str]:
        """Every queue the finding is about: its scope, else the services it names in ``resources``
        (``service`` or ``service/container/...``) or in an evidence ``services`` list; empty: platform-wide."""
        one = self.scope(f)
        if one is not None:
            return frozenset({one})
        names = list(f.resources)
        listed = f.evidence.get("services")
        if isinstance(listed, list):
            names.extend(str(x) for x in listed)
        return frozenset(self.queue_of[n.split("/", 1)[0]] for n in names if n.split("/", 1)[0] in self.queue_of)

    def restricted(self, queues: frozenset[str]) -> Index:
        """The same index holding only the findings about those queues and the platform-wide ones."""
        out = copy.copy(self)
        out.by_signal = {sig: [f for f in found if self.scope(f) is None or self.scope(f) in queues]
                         for sig, found in self.by_signal.items()}
        return out

    def term(self, t: Term) -> list[Finding]:
        found = self.by_signal.get(t.signal, [])
        if t.vantage:
            found = [f for f in found if vantage_of(f) == t.vantage]
        return found

    def expr(self, e: Expr) -> list[Finding] | None:
        """The findings matching every term within one scope (one queue, or platform-wide findings,
        which combine with any queue), or None when the expression does not hold."""
        per_term = [self.term(t) for t in e.terms]
        if not all(per_term):
            return None
        candidates = {self.scope(f) for found in per_term for f in found}
        out: list[Finding] = []
        for sc in sorted(candidates, key=lambda x: (x is None, x or "")):
            picked = [[f for f in found if self.scope(f) in (sc, None)] for found in per_term]
            if all(picked):
                out.extend(f for group in picked for f in group if f not in out)
        return out or None

    def compatible(self, refuting: Finding, support: list[Finding]) -> bool:
        """A refuting finding argues against the support when it is about a queue the support is about,
        or is platform-wide, or the support is all platform-wide."""
        r = self.scope(refuting)
        scopes = {self.scope(f) for f in support} - {None}
        return r is None or not scopes or r in scopes


def uids(findings: Iterable[Finding]) -> list[str]:
    """The findings' uids, first occurrence order, without repeats."""
    seen: list[str] = []
    for f in findings:
        if f.uid not in seen:
            seen.append(f.uid)
    return seen


def assess(cause: Cause, idx: Index) -> tuple[CauseState, float, list[Finding], list[Finding], str]:
    """(state, score, supporting findings, refuting findings, reason) for one cause."""
    support: list[Finding] = []
    top: str | None = None
    base = 0.0
    matched: list[str] = []
    for tier in TIERS:
        for e in cause.tier(tier):
            found = idx.expr(e)
            if found is None:
                continue
            if top in (None, tier):
                # a single finding showing it directly outweighs an inference combining several
                base = max(base, TIER_SCORE[tier] - 0.05 * (len(e.terms) - 1))
            top = top or tier
            matched.append(str(e))
            support.extend(f for f in found if f not in support)
    refute: list[Finding] = []
    refuted_by: list[str] = []
    for e in cause.rule_out:
        found = idx.expr(e)
        if found is None:
            continue
        if support:  # conflicting evidence only when it is about the same queue (or platform-wide)
            found = [f for f in found if f not in support and idx.compatible(f, support)]
            if not found:
                continue
        refuted_by.append(str(e))
        refute.extend(f for f in found if f not in refute and f not in support)
    if top is not None:
        state = TIER_STATE[top]
        worst = max((f.severity.rank for f in support), default=0)
        score = base + min(0.06, 0.02 * (len(matched) - 1)) + 0.01 * worst
        reason = f"{'confirmed' if top == 'confirm' else top} by {matched[0]}"
        if len(matched) > 1:
            reason += f" (also {', '.join(matched[1:])})"
        if refuted_by:
            state = DOWNGRADE[state]
            score -= 0.25
            reason += f"; conflicting evidence: {', '.join(refuted_by)}"
        return state, round(min(max(score, 0.05), 0.99), 3), support, refute, reason
    if refuted_by:
        return CauseState.ruled_out, 0.0, [], refute, f"ruled out by {', '.join(refuted_by)}"
    missing = [c for c in cause.checks if idx.status.get(c) not in COMPLETED]
    if cause.checks and not missing:
        return (CauseState.ruled_out, 0.0, [], [],
                f"ruled out: {', '.join(cause.checks)} completed without showing it")
    detail = ", ".join(f"{c} {idx.status[c].value if c in idx.status else 'not run'}" for c in missing)
    return CauseState.unknown, 0.0, [], [], f"unknown: no evidence either way ({detail})"


@dataclass
class Assessed:
    """One cause's assessment: state, score, supporting and refuting findings, and why."""

    cause: Cause
    state: CauseState
    score: float
    support: list[Finding]
    refute: list[Finding]
    reason: str


def assess_all(books: list[Playbook], idx: Index) -> dict[str, Assessed]:
    """Every cause of the playbooks by id, each assessed on its own."""
    return {c.id: Assessed(c, *assess(c, idx)) for b in books for c in b.causes}
