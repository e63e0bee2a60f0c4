"""The diagnosis: every playbook's causes assessed against a report, ranked, with a verdict line.

Causes rank by strength: state (confirmed, likely, possible, unknown, ruled-out), then score
(highest first); within a playbook, equal strengths keep the playbook's order. A malformed playbook
file shows up as one ``invalid-playbook`` result whose verdict is the error, never as a crash.
"""

from __future__ import annotations

from doctor.config import Config
from doctor.diagnosis.frontmatter import PlaybookError
from doctor.diagnosis.matching import Assessed, Index, assess_all, uids
from doctor.diagnosis.nextsteps import next_steps
from doctor.diagnosis.playbook import Playbook, load_playbooks
from doctor.model import CauseResult, CauseState, PlaybookResult, Report

STATE_RANK = {CauseState.confirmed: 0, CauseState.likely: 1, CauseState.possible: 2, CauseState.unknown: 3,
              CauseState.ruled_out: 4}
SUPPORTED = (CauseState.confirmed, CauseState.likely, CauseState.possible)
STRONG = (CauseState.confirmed, CauseState.likely)  # the states a root cause can have


def strength(state: CauseState, score: float) -> tuple[int, float]:
    """A cause's rank key: lower is stronger (state first, then the higher score)."""
    return STATE_RANK[state], -score


def diagnose_playbook(book: Playbook, report: Report, config: Config, idx: Index | None = None,
                      assessed: dict[str, Assessed] | None = None) -> PlaybookResult:
    """One playbook's causes, ranked, with next steps for the supported ones."""
    idx = idx or Index(report, config)
    assessed = assessed or assess_all([book], idx)
    results: list[tuple[int, CauseResult]] = []
    for n, cause in enumerate(book.causes):
        a = assessed[cause.id]
        steps = next_steps(cause, a.support, report, config) if a.state in SUPPORTED else []
        results.append((n, CauseResult(
            id=cause.id, title=cause.title, state=a.state, score=a.score, evidence=uids(a.support),
            refuting=uids(a.refute), next_steps=steps, reason=a.reason)))
    results.sort(key=lambda r: (strength(r[1].state, r[1].score), r[0]))
    causes = [c for _, c in results]
    return PlaybookResult(id=book.id, title=book.title, verdict=verdict(causes), causes=causes)


def verdict(causes: list[CauseResult]) -> str:
    """One line summarising the top cause (causes are ranked)."""
    if not causes:
        return "no causes defined"
    top = causes[0]
    if top.state in (CauseState.confirmed, CauseState.likely):
        others = [c.id for c in causes[1:] if c.state in (CauseState.confirmed, CauseState.likely)]
        n = len(top.evidence)
        line = (f"{top.state.value.capitalize()}: {top.title} ({top.id}), "
                f"{n} supporting finding{'s' if n != 1 else ''}")
        if others:
            line += f"; also {', '.join(others)}"
        return line
    unknown = [c.id for c in causes if c.state == CauseState.unknown]
    possible = [c.id for c in causes if c.state == CauseState.possible]
    ruled = [c for c in causes if c.state == CauseState.ruled_out]
    parts = []
    if possible:
        parts.append(f"possible: {', '.join(possible)}")
    if unknown:
        parts.append(f"could not be decided (checks did not run): {', '.join(unknown)}")
    if ruled:
        parts.append(f"{len(ruled)} of {len(causes)} ruled out")
    if not possible and not unknown:
        return f"No cause indicated: all {len(causes)} causes ruled out"
    return "Nothing conclusive: " + "; ".join(parts)


def invalid_result(e: PlaybookError) -> PlaybookResult:
    """The stand-in result when the playbook files cannot be loaded: the error as its verdict."""
    return PlaybookResult(id="invalid-playbook", title="Playbook files could not be loaded",
                          verdict=f"error: {e}", causes=[])


def diagnose(report: Report, config: Config) -> list[PlaybookResult]:
    """Every playbook with its causes ranked; a malformed playbook file shows up as a verdict, never a crash."""
    try:
        books = load_playbooks()
    except PlaybookError as e:
        return [invalid_result(e)]
    idx = Index(report, config)
    assessed = assess_all(books, idx)
    return [diagnose_playbook(b, report, config, idx, assessed) for b in books]


def top_causes(playbooks: list[PlaybookResult]) -> list[tuple[PlaybookResult, CauseResult]]:
    """Causes across playbooks, strongest first (for renderers and tests)."""
    pairs = [(p, c) for p in playbooks for c in p.causes]
    return sorted(pairs, key=lambda pc: strength(pc[1].state, pc[1].score))
