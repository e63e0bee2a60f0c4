"""What changed between two saved reports (``ame-doctor diff OLD.json NEW.json``, in doctor.commands.diff).

Findings are matched by uid (deterministic: check id + kind + resource): *appeared*, *resolved*,
*persisted* (with severity changes); checks whose status changed; playbook verdict and cause-state
changes. Exit 0 when nothing got worse, 1 when something did, 2 when a file is not a report.

Worse means: a warning-or-above finding appeared, a persisted finding's severity rose, a check's
status got worse (pass < unknown/skipped < warn < error < fail), or a cause got stronger
(ruled-out/unknown < possible < likely < confirmed) reaching likely or confirmed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from doctor.model import CauseState, CheckStatus, Finding, Report, Severity

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
class ReportDiff:
    old_run: str
    new_run: str
    old_status: str
    new_status: str
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


def diff_reports(old: Report, new: Report) -> ReportDiff:
    d = ReportDiff(old_run=old.run.id, new_run=new.run.id, old_status=old.status.value,
                   new_status=new.status.value)
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


def render_text(d: ReportDiff) -> str:
    out = [f"ame-doctor diff: run {d.old_run} ({d.old_status}) -> run {d.new_run} ({d.new_status})", ""]

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

