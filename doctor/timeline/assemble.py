"""The report's timeline from what the sources read and what the run found: one change seen by two sources
becomes one event (a CloudTrail ``PutParameter`` and the SSM version it made; an ``UpdateService`` and the
deployment it started), symptoms the checks timed are added, the root causes are correlated, and the
whole passes the run's redactor."""

from __future__ import annotations

from datetime import datetime, timedelta

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
KIND_ORDER = {TimelineKind.change: 0, TimelineKind.info: 1, TimelineKind.symptom: 2}


def assemble(report: Report, collected: Collected, config: Config, redactor: Redactor) -> Timeline:
    reads = collected.reads + read_observed(report)
    events = merge_duplicates([e for r in reads for e in r.events])
    corr = correlate(events, report.diagnosis.root_causes, report, collected.contexts, config, collected.scaler)
    events += corr.observations
    events.sort(key=sort_key)
    timeline = Timeline(
        since=iso(collected.window.since), until=iso(collected.window.until), events=events, links=corr.links,
        unmatched_changes=corr.unmatched_changes, unexplained_symptoms=corr.unexplained_symptoms,
        sources=[r.summary() for r in reads])
    return Timeline.model_validate(redactor.scrub_obj(timeline.model_dump(mode="json")))


def sort_key(e: TimelineEvent) -> tuple[datetime, int, str]:
    return (when(e.at) or datetime.min, KIND_ORDER[e.kind], e.id)


def merge_duplicates(events: list[TimelineEvent]) -> list[TimelineEvent]:
    """Drop a second source's record of a CloudTrail change (same resource, within SAME_CHANGE); the CloudTrail
    event keeps its id in ``detail.also`` (and the SSM version / ECS deployment id)."""
    trail: dict[str, list[tuple[datetime, TimelineEvent]]] = {}
    for e in events:
        at = when(e.at)
        if e.source == "cloudtrail" and at is not None:
            for tok in e.resources:
                trail.setdefault(tok, []).append((at, e))
    out = []
    for e in events:
        twin = _twin(e, trail)
        if twin is None:
            out.append(e)
            continue
        twin.detail.setdefault("also", []).append(e.id)
        for key in ("version", "deployment"):
            if key in e.detail:
                twin.detail[key] = e.detail[key]
    return out


def _twin(e: TimelineEvent, trail: dict[str, list[tuple[datetime, TimelineEvent]]]) -> TimelineEvent | None:
    at = when(e.at)
    if at is None:
        return None
    for source, kind, names in DUPLICATES:
        if e.source != source:
            continue
        for tok in (t for t in e.resources if t.startswith(kind + ":")):
            for ct_at, ct in trail.get(tok, []):
                if ct.detail.get("event") in names and abs(ct_at - at) <= SAME_CHANGE:
                    return ct
    return None
