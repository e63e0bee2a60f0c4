"""The report's timeline from what the sources read and what the run found: one change seen by two sources
becomes one event (a CloudTrail ``PutParameter`` and the SSM version it made; an ``UpdateService`` and the
deployment it started), symptoms the checks timed are added, the root causes are correlated, and the
whole passes the run's redactor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from doctor.config import Config
from doctor.model import Report, Timeline, TimelineEvent, TimelineKind
from doctor.redact import Redactor
from doctor.timeline.collect import Collected
from doctor.timeline.correlate import correlate
from doctor.timeline.observed import read as read_observed
from doctor.timeline.sources import iso, when

SAME_CHANGE = timedelta(seconds=120)  # two sources' records of one change are at most this far apart
# (source of the duplicate, token kind it shares, CloudTrail events it duplicates)
DUPLICATES = (
    ("ssm-history", "param", ("PutParameter",)),
    ("ecs-deployment", "service", ("UpdateService", "CreateService")),
)
NEVER = datetime.min.replace(tzinfo=UTC)  # an unreadable time sorts first and matches nothing
KIND_ORDER = {TimelineKind.change: 0, TimelineKind.info: 1, TimelineKind.symptom: 2}


def assemble(report: Report, collected: Collected, config: Config, redactor: Redactor) -> Timeline:
    reads = collected.reads + read_observed(report)
    events = [e for r in reads for e in r.events]
    times = {e.id: when(e.at) or NEVER for e in events}
    events = merge_duplicates(events, times)
    corr = correlate(events, report.diagnosis.root_causes, report, collected.contexts, config, collected.scaler)
    events += corr.observations
    times.update((e.id, when(e.at) or NEVER) for e in corr.observations)
    events.sort(key=lambda e: (times[e.id], KIND_ORDER[e.kind], e.id))
    timeline = Timeline(
        since=iso(collected.window.since), until=iso(collected.window.until), events=events, links=corr.links,
        unmatched_changes=corr.unmatched_changes, unexplained_symptoms=corr.unexplained_symptoms,
        sources=[r.summary() for r in reads])
    return scrub(timeline, redactor)


def scrub(timeline: Timeline, redactor: Redactor) -> Timeline:
    """Every text of the timeline through the run's redactor (in place, each distinct string once: ten thousand
    events repeat their actors, verbs and request values). Ids, times and kinds are the doctor's own."""
    memo: dict[str, str] = {}

    def text(s: str) -> str:
        out = memo.get(s)
        if out is None:
            out = memo[s] = redactor.scrub(s)
        return out

    def walk(value: Any) -> Any:  # in place: the details were built for this timeline
        if isinstance(value, str):
            return text(value)
        if isinstance(value, dict):
            for k, v in value.items():
                value[k] = walk(v)
        elif isinstance(value, list):
            value[:] = [walk(v) for v in value]
        return value

    for e in timeline.events:
        e.title, e.actor = text(e.title), text(e.actor) if e.actor else e.actor
        e.resources, e.detail = [text(r) for r in e.resources], walk(e.detail)
    for link in timeline.links:
        link.text, link.via = text(link.text), [text(v) for v in link.via]
    for source in timeline.sources:
        source.note = text(source.note)
    return timeline


def merge_duplicates(events: list[TimelineEvent], times: dict[str, datetime]) -> list[TimelineEvent]:
    """Drop a second source's record of a CloudTrail change (same resource, within SAME_CHANGE); the CloudTrail
    event keeps its id in ``detail.also`` (and the SSM version / ECS deployment id)."""
    trail: dict[str, list[tuple[datetime, TimelineEvent]]] = {}
    for e in events:
        if e.source == "cloudtrail":
            for tok in e.resources:
                trail.setdefault(tok, []).append((times[e.id], e))
    out = []
    for e in events:
        twin = _twin(e, times[e.id], trail) if e.source != "cloudtrail" else None
        if twin is None:
            out.append(e)
            continue
        twin.detail.setdefault("also", []).append(e.id)
        for key in ("version", "deployment"):
            if key in e.detail:
                twin.detail[key] = e.detail[key]
    return out


def _twin(e: TimelineEvent, at: datetime, trail: dict[str, list[tuple[datetime, TimelineEvent]]]) -> TimelineEvent | None:
    for source, kind, names in DUPLICATES:
        if e.source != source:
            continue
        for tok in (t for t in e.resources if t.startswith(kind + ":")):
            for ct_at, ct in trail.get(tok, []):
                if ct.detail.get("event") in names and abs(ct_at - at) <= SAME_CHANGE:
                    return ct
    return None
