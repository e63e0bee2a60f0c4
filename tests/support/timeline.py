"""Timeline events and collections built from the real model, for the correlation and renderer tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from doctor.model import TimelineEvent, TimelineKind
from doctor.timeline.collect import Collected
from doctor.timeline.context import ServiceContext
from doctor.timeline.sources import SourceRead, Window, iso

RUN_AT = datetime(2026, 11, 28, 2, 0, 0, tzinfo=UTC)  # support.render.report's run start
IMAGE = "propertyfeedtemplate-image"


def ago(minutes: float) -> str:
    return iso(RUN_AT - timedelta(minutes=minutes))


def change(cid: str, minutes_ago: float, resources: list[str], *, subject: str | None = None, verb: str = "changed",
           actor: str | None = "deploy/alex", **kw: Any) -> TimelineEvent:
    subject = subject or resources[0]
    return TimelineEvent(id=cid, at=ago(minutes_ago), kind=TimelineKind.change, source="cloudtrail",
                         title=f"{subject} {verb}", actor=actor, resources=resources,
                         detail={"event": kw.pop("event", "PutParameter"), "phrase": {"subject": subject, "verb": verb}},
                         **kw)


def symptom(sid: str, minutes_ago: float, *, signals: list[str] | None = None, services: list[str] | None = None,
            finding: str | None = None, phrase: str | None = None, source: str = "logs") -> TimelineEvent:
    services = services or []
    return TimelineEvent(id=sid, at=ago(minutes_ago), kind=TimelineKind.symptom, source=source, title=sid,
                         resources=[f"service:{s}" for s in services], services=services, signals=signals or [],
                         finding=finding, detail={"phrase": {"symptom": phrase or sid}})


def collected(*events: TimelineEvent, contexts: dict[str, ServiceContext] | None = None,
              scaler: list[str] | None = None, since_hours: float = 24) -> Collected:
    window = Window(since=RUN_AT - timedelta(hours=since_hours), until=RUN_AT)
    return Collected(window, [SourceRead("cloudtrail", list(events))], contexts or {}, scaler or [])
