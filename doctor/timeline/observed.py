"""Symptoms the checks already timed, read from the report's findings (no extra call): the oldest ready job
(the backlog started then), the oldest expired reservation and overdue delayed job, the first failed job,
Sentry's ``firstSeen``; and, for each root cause, the moment the doctor itself saw its strongest evidence
(the first symptom when nothing earlier is known)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from doctor.model import CheckResult, Finding, Report, SourceStatus, TimelineEvent, TimelineKind
from doctor.timeline.sources import SourceRead, iso, when
from doctor.timeline.tokens import token

# (finding kind, evidence key with an age in seconds, what started then)
QUEUE_AGES = (
    ("depth", "oldest_ready_age_s", "the oldest ready job was queued", "the backlog on {queue}"),
    ("stale_reservations", "oldest_expired_reservation_s", "the oldest reservation expired (nobody popped since)",
     "the first expired reservation on {queue}"),
    ("overdue_delayed", "oldest_overdue_delayed_s", "the oldest delayed job fell due (nobody popped since)",
     "the first overdue delayed job on {queue}"),
)


def read(report: Report) -> list[SourceRead]:
    """The queue and Sentry symptoms of ``report``'s findings, one source each."""
    run_at = when(report.run.started_at)
    queue, sentry = SourceRead("queue"), SourceRead("sentry")
    if run_at is None:
        return [queue, sentry]
    for check, f in report.findings():
        if check.id == "queue.state":
            queue.events += _queue(f, run_at)
        elif check.id == "sentry.errors" and f.evidence.get("first_seen"):
            sentry.events += _sentry(f)
    _status(queue, report.check("queue.state"))
    _status(sentry, report.check("sentry.errors"))
    return [queue, sentry]


def _status(out: SourceRead, check: CheckResult | None) -> None:
    if check is None or check.status.value == "skipped":
        out.status = SourceStatus.off
        out.note = "not run" if check is None else check.summary
    elif check.status.value in ("unknown", "error") and not out.events:  # the check's own trouble, not a permission
        out.status, out.note = SourceStatus.partial, f"{check.id} could not read everything: {check.summary}"


def _queue(f: Finding, run_at: datetime) -> list[TimelineEvent]:
    kind = f.uid.split(":")[1] if f.uid.count(":") >= 2 else ""
    ev = f.evidence
    queue = str(ev.get("queue", ""))
    service = ev.get("service")
    base: dict[str, Any] = {"resources": [token("service", service)] if service else [],
                            "services": [service] if service else [], "signals": list(f.signals), "finding": f.uid}
    out = []
    for k, key, what, phrase in QUEUE_AGES:
        age = ev.get(key)
        if k == kind and isinstance(age, int | float) and age >= 0:
            out.append(TimelineEvent(
                id=f"queue:{queue}:{k}", at=iso(run_at - timedelta(seconds=float(age))), kind=TimelineKind.symptom,
                source="queue", title=f"{queue}: {what} ({_ago(age)} before the run)",
                detail={"age_s": age, "phrase": {"symptom": phrase.format(queue=queue)}}, **base))
    if kind == "failed_jobs_recent":
        for row in ev.get("by_exception") or []:
            at = when(row.get("first_failed_at"))
            if at is None:
                continue
            exc = str(row.get("exception", ""))
            out.append(TimelineEvent(
                id=f"queue:{queue}:failed:{exc}", at=iso(at), kind=TimelineKind.symptom, source="queue",
                title=f"{queue}: first failed job ({exc}; {row.get('count', '?')} in the last hour)",
                detail={"exception": exc, "count": row.get("count"), "last": row.get("last_failed_at"),
                        "phrase": {"symptom": f"the first failed job on {queue} ({exc.rsplit(chr(92), 1)[-1]})"}},
                **base))
    return out


def _sentry(f: Finding) -> list[TimelineEvent]:
    at = when(f.evidence.get("first_seen"))
    if at is None:
        return []
    ev = f.evidence
    service = ev.get("service")
    issue = str(ev.get("short_id") or f.uid.rsplit(":", 1)[-1])
    return [TimelineEvent(
        id=f"sentry:{issue}", at=iso(at), kind=TimelineKind.symptom, source="sentry",
        title=f"Sentry {issue} first seen: {f.title}", resources=[token("service", service)] if service else [],
        services=[service] if service else [], signals=list(f.signals), finding=f.uid,
        detail={"last_seen": ev.get("last_seen"), "phrase": {"symptom": f"Sentry's first {issue}"}})]


def seen_by_the_doctor(report: Report, uid: str) -> TimelineEvent | None:
    """The run's own observation of finding ``uid`` (the latest possible first symptom)."""
    hit = next(((c, f) for c, f in report.findings() if f.uid == uid), None)
    at = when(report.run.started_at)
    if hit is None or at is None:
        return None
    check, f = hit
    return TimelineEvent(
        id=f"doctor:{uid}", at=iso(at), kind=TimelineKind.symptom, source="doctor",
        title=f"{check.id}: {f.title}", signals=list(f.signals), finding=uid,
        detail={"phrase": {"symptom": f"the doctor saw '{_clip(f.title, 90)}' ({check.id})"}})


def _ago(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{int(seconds)} s"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"
