"""Changes tied to root causes. For each root cause: its first symptom (the earliest symptom that is its
evidence, or shows one of its evidence signals on one of its services; at the latest the doctor's own
observation), then every change in its scope at or before that moment, nearest first, each with the gap:
"Redis SG sg-0abc ingress rule revoked by deploy/alex 41 min before the first 'Redis connection timed
out' on app-image". A change tied to no root cause, and a symptom with no change in its scope before it,
are leads (the second may be an AWS-side event)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from doctor.config import Config
from doctor.model import Report, RootCause, TimelineEvent, TimelineKind, TimelineLink
from doctor.timeline.context import ServiceContext
from doctor.timeline.observed import seen_by_the_doctor
from doctor.timeline.scope import Scope, evidence_tokens, scope_of, services_named
from doctor.timeline.sources import when
from doctor.timeline.tokens import token

SYMPTOM_CHECKS = ("reach.", "ecs.startup", "ecs.service", "queue.", "sentry.")


@dataclass
class Correlation:
    links: list[TimelineLink]
    unmatched_changes: list[str]
    unexplained_symptoms: list[str]
    observations: list[TimelineEvent]  # the doctor's own first sightings that became first symptoms


def correlate(events: list[TimelineEvent], causes: list[RootCause], report: Report,
              contexts: dict[str, ServiceContext], config: Config, scaler: Sequence[str] = ()) -> Correlation:
    at: dict[str, datetime] = {e.id: t for e in events if (t := when(e.at)) is not None}
    changes = sorted((e for e in events if e.kind == TimelineKind.change and e.id in at), key=lambda e: at[e.id])
    symptoms = [e for e in events if e.kind == TimelineKind.symptom and e.id in at]
    links: list[TimelineLink] = []
    observations: list[TimelineEvent] = []
    linked: set[str] = set()
    explained: set[str] = set()
    run_at = when(report.run.started_at)
    for rc in causes:
        scope = scope_of(rc, report, contexts, config, scaler)
        own = [s for s in symptoms if _belongs(s, rc, scope)]
        if not own:  # nothing timed earlier: the doctor's own sighting of its evidence is the first symptom
            seen = next((o for uid in sorted(rc.evidence, key=_symptom_first)
                         if (o := seen_by_the_doctor(report, uid)) is not None), None)
            if seen is not None and (t := when(seen.at)) is not None:
                at[seen.id] = t
                observations.append(seen)
                own = [seen]
        first = min(own, key=lambda s: at[s.id]) if own else None
        horizon = at[first.id] if first is not None else run_at
        if horizon is None:
            continue
        mine = [c for c in changes if at[c.id] <= horizon and scope.tokens.intersection(c.resources)]
        mine.sort(key=lambda c: horizon - at[c.id])
        for c in mine:
            if c.finding is None:
                c.finding = _finding_naming(c, rc, report, config)
            gap_s = int((horizon - at[c.id]).total_seconds())
            links.append(TimelineLink(
                playbook=rc.playbook, cause=rc.cause, change=c.id, symptom=first.id if first else None, gap_s=gap_s,
                via=sorted(scope.tokens.intersection(c.resources)), text=link_text(c, first, gap_s, scope)))
            linked.add(c.id)
        if mine:
            explained |= {s.id for s in own}
    for s in symptoms:  # a symptom outside every root cause: explained by a change on its own resources before it
        if s.id not in explained and any(at[c.id] <= at[s.id] and _touches(c, s) for c in changes):
            explained.add(s.id)
    unexplained = [s.id for s in symptoms + observations if s.id not in explained]
    return Correlation(links, [c.id for c in changes if c.id not in linked], unexplained, observations)


def _finding_naming(change: TimelineEvent, rc: RootCause, report: Report, config: Config) -> str | None:
    """The root cause's evidence finding that names the changed resource (the TUI jumps there), else its first."""
    found = {f.uid: f for _, f in report.findings()}
    for uid in rc.evidence:
        f = found.get(uid)
        if f is None:
            continue
        named = evidence_tokens(f, config.ssm.path) | {token("service", s) for s in services_named(f, set(config.services))}
        if named.intersection(change.resources):
            return uid
    return next((uid for uid in rc.evidence if uid in found), None)


def _symptom_first(uid: str) -> int:
    """Evidence that is what on-call sees (a timeout from a task, a crash, a stuck queue) before evidence that
    is the cause itself (an SG rule, a parameter): the doctor's sighting of the former is the symptom."""
    return next((n for n, prefix in enumerate(SYMPTOM_CHECKS) if uid.startswith(prefix)), len(SYMPTOM_CHECKS))


def _belongs(s: TimelineEvent, rc: RootCause, scope: Scope) -> bool:
    if s.finding is not None:
        return s.finding in rc.evidence
    if not scope.signals.intersection(s.signals):
        return False
    return not s.services or not scope.services or bool(scope.services.intersection(s.services))


def _touches(change: TimelineEvent, symptom: TimelineEvent) -> bool:
    mine = set(symptom.resources) | {token("service", s) for s in symptom.services}
    return bool(mine.intersection(change.resources))


def link_text(change: TimelineEvent, first: TimelineEvent | None, gap_s: int, scope: Scope) -> str:
    phrase = change.detail.get("phrase") or {}
    subject, verb = phrase.get("subject"), phrase.get("verb")
    what = f"{scope.label(subject)} {_short(verb)}" if subject and verb else change.title
    who = f" by {change.actor}" if change.actor else ""
    before = ((first.detail.get("phrase") or {}).get("symptom") or first.title) if first else "the doctor's run"
    return f"{what}{who} {gap(gap_s)} before {before}"


def _short(verb: str) -> str:
    """The verb without its parenthesised detail ("ingress rule revoked (tcp 6379 from ...)" -> "ingress rule revoked")."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", verb) or verb


def gap(seconds: int) -> str:
    if seconds < 60:
        return "moments"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{hours // 24} d {hours % 24} h" if hours % 24 else f"{hours // 24} d"
