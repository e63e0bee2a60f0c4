"""What changed between two saved reports (``ame-doctor diff OLD.json NEW.json``, in doctor.commands.diff).

Root causes first: matched by playbook and cause (the same scope first), each *appeared*, *resolved*,
*changed* (state, score or scope) or *unchanged*; the text output opens with them. Then findings,
matched by uid (deterministic: check id + kind + resource): *appeared*, *resolved*, *persisted* (with
severity changes); checks whose status changed; playbook verdict and cause-state changes. Exit 0 when
nothing got worse, 1 when something did, 2 when a file is not a report.

Worse means: a root cause appeared, got stronger or spread to more services/queues, a warning-or-above
finding appeared, a persisted finding's severity rose, a check's status got worse (pass <
unknown/skipped < warn < error < fail), or a cause got stronger (ruled-out/unknown < possible < likely
< confirmed) reaching likely or confirmed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from doctor.model import CauseState, CheckStatus, Finding, Report, RootCause, Scope, Severity
from doctor.render.rootcause import cause_name, explains_text, scope_text

STATUS_RANK = {CheckStatus.passed: 0, CheckStatus.skipped: 1, CheckStatus.unknown: 1, CheckStatus.warn: 2,
               CheckStatus.error: 3, CheckStatus.fail: 4}
CAUSE_RANK = {CauseState.ruled_out: 0, CauseState.unknown: 0, CauseState.possible: 1, CauseState.likely: 2,
              CauseState.confirmed: 3}
RUN_RANK = {"healthy": 0, "unknown": 1, "degraded": 2, "failing": 3}


@dataclass
class FindingChange:
    uid: str
    check: str
    title: str
    severity: str
    old_severity: str | None = None  # persisted: the old severity when it changed


@dataclass
class StatusChange:
    id: str
    old: str | None
    new: str | None
    worse: bool


@dataclass
class CauseChange:
    playbook: str
    cause: str
    old: str | None
    new: str | None
    worse: bool


@dataclass
class VerdictChange:
    playbook: str
    old: str | None
    new: str | None


@dataclass
class RootCauseChange:
    change: str  # appeared | resolved | changed | unchanged
    playbook: str
    cause: str
    title: str
    old_state: str | None
    new_state: str | None
    old_score: float | None
    new_score: float | None
    old_scope: dict[str, list[str]] | None
    new_scope: dict[str, list[str]] | None
    explains: str = ""  # what the (new, else old) root cause explains, as the report lines say it
    worse: bool = False


@dataclass
class ReportDiff:
    old_run: str
    new_run: str
    old_status: str
    new_status: str
    root_causes: list[RootCauseChange] = field(default_factory=list)
    appeared: list[FindingChange] = field(default_factory=list)
    resolved: list[FindingChange] = field(default_factory=list)
    persisted: list[FindingChange] = field(default_factory=list)
    checks: list[StatusChange] = field(default_factory=list)
    verdicts: list[VerdictChange] = field(default_factory=list)
    causes: list[CauseChange] = field(default_factory=list)
    worse_reasons: list[str] = field(default_factory=list)

    @property
    def worse(self) -> bool:
        return bool(self.worse_reasons)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["worse"] = self.worse
        return d


def _findings(report: Report) -> dict[str, tuple[str, Finding]]:
    return {f.uid: (c.id, f) for c, f in report.findings()}


def _pair_root_causes(old: list[RootCause], new: list[RootCause]) -> list[tuple[RootCause | None, RootCause | None]]:
    """Old and new root causes paired by playbook + cause, the same scope first; unpaired ones alone.
    New ones keep their rank order; resolved ones follow in their old order."""
    pairs: list[tuple[RootCause | None, RootCause | None]] = []
    left = list(old)
    matches: dict[int, RootCause] = {}
    for exact in (True, False):
        for i, rc in enumerate(new):
            if i in matches:
                continue
            hit = next((o for o in left if (o.playbook, o.cause) == (rc.playbook, rc.cause)
                        and (not exact or o.scope == rc.scope)), None)
            if hit is not None:
                matches[i] = hit
                left.remove(hit)
    pairs += [(matches.get(i), rc) for i, rc in enumerate(new)]
    pairs += [(o, None) for o in left]
    return pairs


def _scope_dict(scope: Scope) -> dict[str, list[str]]:
    return {"services": list(scope.services), "queues": list(scope.queues)}


def _root_cause_change(o: RootCause | None, n: RootCause | None) -> RootCauseChange:
    either = n or o
    assert either is not None
    spread = n is not None and o is not None and bool(
        (set(n.scope.services) - set(o.scope.services)) | (set(n.scope.queues) - set(o.scope.queues)))
    stronger = n is not None and o is not None and CAUSE_RANK[n.state] > CAUSE_RANK[o.state]
    if o is None:
        change = "appeared"
    elif n is None:
        change = "resolved"
    elif o.state != n.state or round(o.score, 2) != round(n.score, 2) or o.scope != n.scope:
        change = "changed"
    else:
        change = "unchanged"
    return RootCauseChange(
        change=change, playbook=either.playbook, cause=either.cause, title=cause_name(either),
        old_state=o.state.value if o else None, new_state=n.state.value if n else None,
        old_score=o.score if o else None, new_score=n.score if n else None,
        old_scope=_scope_dict(o.scope) if o else None, new_scope=_scope_dict(n.scope) if n else None,
        explains=explains_text(either), worse=change == "appeared" or stronger or spread)


def diff_root_causes(old: Report, new: Report) -> list[RootCauseChange]:
    """Appeared and resolved first, then changed, then unchanged (rank order within each)."""
    changes = [_root_cause_change(o, n) for o, n in
               _pair_root_causes(old.diagnosis.root_causes, new.diagnosis.root_causes)]
    order = {"appeared": 0, "resolved": 0, "changed": 1, "unchanged": 2}
    return sorted(changes, key=lambda c: order[c.change])  # stable: rank order kept


def diff_reports(old: Report, new: Report) -> ReportDiff:
    d = ReportDiff(old_run=old.run.id, new_run=new.run.id, old_status=old.status.value,
                   new_status=new.status.value)
    d.root_causes = diff_root_causes(old, new)
    for rc in d.root_causes:
        if rc.worse:
            d.worse_reasons.append(f"root cause {rc.playbook}/{rc.cause} {rc.change}" if rc.change == "appeared"
                                   else f"root cause {rc.playbook}/{rc.cause} got worse")
    of, nf = _findings(old), _findings(new)
    for uid, (cid, f) in nf.items():
        if uid not in of:
            d.appeared.append(FindingChange(uid, cid, f.title, f.severity.value))
            if f.severity.rank >= Severity.warning.rank:
                d.worse_reasons.append(f"new {f.severity.value} finding {uid}")
        else:
            before = of[uid][1].severity
            d.persisted.append(FindingChange(uid, cid, f.title, f.severity.value,
                                             before.value if before != f.severity else None))
            if f.severity.rank > before.rank and f.severity.rank >= Severity.warning.rank:
                d.worse_reasons.append(f"{uid} rose from {before.value} to {f.severity.value}")
    for uid, (cid, f) in of.items():
        if uid not in nf:
            d.resolved.append(FindingChange(uid, cid, f.title, f.severity.value))

    oc = {c.id: c for c in old.checks}
    nc = {c.id: c for c in new.checks}
    order = {c.id: c.order for c in [*old.checks, *new.checks]}
    for cid in sorted(set(oc) | set(nc), key=lambda i: (order[i], i)):
        o = oc[cid].status if cid in oc else None
        n = nc[cid].status if cid in nc else None
        if o == n:
            continue
        worse = n is not None and STATUS_RANK[n] > (STATUS_RANK[o] if o is not None else 0)
        d.checks.append(StatusChange(cid, o.value if o else None, n.value if n else None, worse))
        if worse:
            d.worse_reasons.append(f"check {cid} went from {o.value if o else 'absent'} to {n.value}")  # type: ignore[union-attr]

    ob = {p.id: p for p in old.playbooks}
    nb = {p.id: p for p in new.playbooks}
    for pid in [*nb, *(p for p in ob if p not in nb)]:
        op, np_ = ob.get(pid), nb.get(pid)
        if (op.verdict if op else None) != (np_.verdict if np_ else None):
            d.verdicts.append(VerdictChange(pid, op.verdict if op else None, np_.verdict if np_ else None))
        ocs = {c.id: c.state for c in (op.causes if op else [])}
        ncs = {c.id: c.state for c in (np_.causes if np_ else [])}
        for cause in [*ncs, *(c for c in ocs if c not in ncs)]:
            o_s, n_s = ocs.get(cause), ncs.get(cause)
            if o_s == n_s:
                continue
            worse = (n_s is not None and CAUSE_RANK[n_s] >= CAUSE_RANK[CauseState.likely]
                     and CAUSE_RANK[n_s] > (CAUSE_RANK[o_s] if o_s is not None else 0))
            d.causes.append(CauseChange(pid, cause, o_s.value if o_s else None, n_s.value if n_s else None, worse))
            if worse:
                d.worse_reasons.append(f"cause {pid}/{cause} is now {n_s.value}")  # type: ignore[union-attr]
    if RUN_RANK.get(new.status.value, 0) > RUN_RANK.get(old.status.value, 0):
        d.worse_reasons.append(f"run status went from {old.status.value} to {new.status.value}")
    return d


def _scope_of(scope: dict[str, list[str]] | None) -> str:
    return scope_text(Scope.model_validate(scope or {}))


def root_cause_line(c: RootCauseChange) -> str:
    """``root cause appeared: <title> (<state>, score ..) on <scope> — explains: ...`` and the like."""
    if c.change == "resolved":
        return f"root cause resolved: {c.title} (was {c.old_state}, score {c.old_score:.2f}) on {_scope_of(c.old_scope)}"
    line = f"root cause {c.change}: {c.title} ({c.new_state}, score {c.new_score:.2f}) on {_scope_of(c.new_scope)}"
    if c.change == "changed":
        moves = []
        if (c.old_state, round(c.old_score or 0, 2)) != (c.new_state, round(c.new_score or 0, 2)):
            moves.append(f"was {c.old_state}, score {c.old_score:.2f}")
        if c.old_scope != c.new_scope:
            moves.append(f"was on {_scope_of(c.old_scope)}")
        line += f" ({'; '.join(moves)})"
    if c.explains and c.change != "unchanged":
        line += f" — explains: {c.explains}"
    return line + ("  (worse)" if c.worse and c.change != "appeared" else "")


def render_text(d: ReportDiff) -> str:
    out = [root_cause_line(c) for c in d.root_causes]
    if out:
        out.append("")
    out += [f"ame-doctor diff: run {d.old_run} ({d.old_status}) -> run {d.new_run} ({d.new_status})", ""]

    def section(title: str, rows: list[str]) -> None:
        out.append(f"{title} ({len(rows)})")
        out.extend(f"  {r}" for r in rows) if rows else out.append("  none")
        out.append("")

    section("Appeared", [f"+ [{f.severity}] {f.title}  ({f.uid})" for f in d.appeared])
    section("Resolved", [f"- [{f.severity}] {f.title}  ({f.uid})" for f in d.resolved])
    section("Persisted", [f"= [{f.severity}] {f.title}  ({f.uid})"
                          + (f"  severity {f.old_severity} -> {f.severity}" if f.old_severity else "")
                          for f in d.persisted])
    section("Checks whose status changed",
            [f"{c.id}: {c.old or 'absent'} -> {c.new or 'absent'}{'  (worse)' if c.worse else ''}" for c in d.checks])
    section("Playbook verdicts that changed",
            [f"{v.playbook}: {v.old or 'absent'!s} -> {v.new or 'absent'!s}" for v in d.verdicts]
            + [f"{c.playbook}/{c.cause}: {c.old or 'absent'} -> {c.new or 'absent'}{'  (worse)' if c.worse else ''}"
               for c in d.causes])
    if d.worse:
        out.append("WORSE: " + "; ".join(d.worse_reasons))
    else:
        out.append("NOT WORSE: nothing appeared or got worse")
    return "\n".join(out) + "\n"

