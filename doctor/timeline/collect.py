"""Reading every change source for one window (blocking; run it off the event loop): CloudTrail, SSM
parameter history, ECS, the error signatures in the logs, and what each worker service is made of. Each
source reads on its own: a denied or failing one is a status, the others still read."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from doctor.config import Config
from doctor.facts import Facts
from doctor.model import SourceStatus
from doctor.redact import Redactor
from doctor.timeline.cloudtrail import read as read_cloudtrail
from doctor.timeline.context import ServiceContext, scaler_tokens, service_contexts
from doctor.timeline.ecs import read as read_ecs
from doctor.timeline.logs import read as read_logs
from doctor.timeline.sources import SourceRead, Window, guarded
from doctor.timeline.ssm_history import read as read_ssm_history
from doctor.util import parse_duration

CUT_OFF_GRACE = 2.0  # seconds past the deadline a source may take to notice it between two pages


@dataclass
class Collected:
    window: Window
    reads: list[SourceRead] = field(default_factory=list)
    contexts: dict[str, ServiceContext] = field(default_factory=dict)
    scaler: list[str] = field(default_factory=list)  # the burst/drain controller's tokens


def window_for(config: Config, since: timedelta | None = None, now: datetime | None = None,
               deadline: float = float("inf")) -> Window:
    until = now or datetime.now(UTC)
    return Window(since=until - (since or parse_duration(config.timeline.since)), until=until, deadline=deadline)


def collect(facts: Facts, window: Window, redactor: Redactor) -> Collected:
    """Every source; CloudTrail (the slow one: two lookups a second) in its own daemon thread beside the others
    (a stuck call never holds the process)."""
    config = facts.config
    pages = config.timeline.max_pages
    out = Collected(window)
    trail: list[SourceRead] = []
    reader = threading.Thread(target=lambda: trail.append(guarded(
        "cloudtrail", lambda r: read_cloudtrail(r, facts.aws, window, pages, redactor))),
        name="doctor-timeline-cloudtrail", daemon=True)
    reader.start()
    holder: dict[str, dict[str, ServiceContext]] = {}

    def contexts(read: SourceRead) -> None:
        holder["contexts"] = service_contexts(facts)

    ecs_read = guarded("ecs", contexts)  # the services themselves: ECS denied means no ECS source either
    out.contexts = holder.get("contexts", {})
    out.scaler = scaler_tokens(facts)
    if ecs_read.status == SourceStatus.ok:
        ecs_read = guarded("ecs", lambda r: read_ecs(r, facts, out.contexts, window))
    history = guarded("ssm-history", lambda r: read_ssm_history(r, facts, window, pages))
    logs = (guarded("logs", lambda r: read_logs(r, facts, out.contexts, window, pages, redactor)) if out.contexts
            else SourceRead("logs", status=ecs_read.status, note="no worker service could be read (see ecs)",
                            unlock=ecs_read.unlock))
    left = window.deadline - time.monotonic()
    reader.join(None if left == float("inf") else max(0.0, left) + CUT_OFF_GRACE)
    cut = SourceRead("cloudtrail", status=SourceStatus.error, note="no answer before the run deadline")
    out.reads = [trail[0] if trail else cut, history, ecs_read, logs]
    return out
