"""The soak window, observed: sample the queues at an interval, then judge the trend.

Each sample is one set of queue views (from whatever sampler the caller injects: the real checks, a
script in tests). Per queue the soak gives the backlog trend, drain rate, time to empty, restarts and
new error signals, and six verdicts (the sixth: the burst/drain controller not failing); the soak is healthy
when every queue passes all six.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from doctor import __version__
from doctor.rollout.views import (
    CONNECTIVITY_PREFIXES,
    CONTROLLER_FAILING_SIGNALS,
    FAILING_QUEUE_SIGNALS,
    QueueView,
)

WATCH_SCHEMA_VERSION = 1
NO_STORM = 10**9  # restart-storm threshold for a running summary: storms are judged at the end only


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: str
    elapsed_s: float
    backlog: int | None
    running: int
    desired: int
    steady: bool
    stopped_in_window: int
    signals: list[str] = Field(default_factory=list)


class QueueSoak(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue: str
    service: str
    samples: list[Sample] = Field(default_factory=list)
    drain_rate_per_min: float | None = None
    time_to_empty_s: float | None = None
    restarts: int = 0
    new_errors: list[str] = Field(default_factory=list)
    verdicts: dict[str, bool] = Field(default_factory=dict)
    healthy: bool = False


class SoakResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: int = WATCH_SCHEMA_VERSION
    tool: dict[str, str] = Field(default_factory=lambda: {"name": "ame-doctor", "version": __version__})
    cluster: str
    started_at: str
    finished_at: str | None = None
    interval_s: float
    duration_s: float
    queues: list[QueueSoak]
    healthy: bool = False


Sampler = Callable[[], dict[str, QueueView]]
OnTick = Callable[[float, dict[str, QueueView], dict[str, QueueSoak]], None]


def _sample(view: QueueView, elapsed: float) -> Sample:
    return Sample(at=datetime.now(UTC).isoformat(), elapsed_s=round(elapsed, 3),
                  backlog=view.backlog if view.backlog_known else None, running=view.running, desired=view.desired,
                  steady=view.steady, stopped_in_window=view.stopped_in_window, signals=sorted(view.signals))


def summarise(q: QueueSoak, restart_storm: int) -> None:
    """Trend, restarts, new errors, and the six soak verdicts for one queue (in place)."""
    known = [(s.elapsed_s, s.backlog) for s in q.samples if s.backlog is not None]
    if len(known) >= 2 and known[-1][0] > known[0][0]:
        minutes = (known[-1][0] - known[0][0]) / 60
        q.drain_rate_per_min = round((known[0][1] - known[-1][1]) / minutes, 2)
        if q.drain_rate_per_min > 0 and known[-1][1]:
            q.time_to_empty_s = round(known[-1][1] / q.drain_rate_per_min * 60, 1)
        elif known[-1][1] == 0:
            q.time_to_empty_s = 0.0
    first = set(q.samples[0].signals) if q.samples else set()
    seen: set[str] = set()
    for s in q.samples[1:]:
        seen.update(s.signals)
    q.new_errors = sorted(x for x in seen - first if not x.endswith(("_ok", ".ok", ".steady", ".draining")))
    q.restarts = max((s.stopped_in_window for s in q.samples), default=0) - (q.samples[0].stopped_in_window if q.samples else 0)
    last = q.samples[-1] if q.samples else None
    all_signals = first | seen
    backlog_down = bool(known) and (known[-1][1] == 0 or (q.drain_rate_per_min or 0) > 0)
    q.verdicts = {
        "steady state reached": bool(last and last.steady),
        "no restart storm": (last.stopped_in_window if last else 0) < restart_storm,
        "jobs not failing in loops": not (all_signals & FAILING_QUEUE_SIGNALS),
        "backlog trending down": backlog_down,
        "no fresh connectivity errors": not any(x.startswith(CONNECTIVITY_PREFIXES) for x in q.new_errors),
        "controller not failing": not (all_signals & CONTROLLER_FAILING_SIGNALS),
    }
    q.healthy = all(q.verdicts.values())


def watch(sampler: Sampler, cluster: str, interval: float, duration: float, restart_storm: int,
          on_tick: OnTick | None = None,
          sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
          stopped: Callable[[], bool] = lambda: False) -> SoakResult:
    """Sample every ``interval`` seconds while the next sample fits in ``duration`` (or until ``stopped``)."""
    start = clock()
    result = SoakResult(cluster=cluster, started_at=datetime.now(UTC).isoformat(), interval_s=interval,
                        duration_s=duration, queues=[])
    soaks: dict[str, QueueSoak] = {}
    while True:
        elapsed = clock() - start
        views = sampler()
        for name, v in views.items():
            q = soaks.setdefault(name, QueueSoak(queue=name, service=v.service))
            q.samples.append(_sample(v, elapsed))
        if on_tick:
            on_tick(elapsed, views, soaks)
        if elapsed + interval > duration or stopped():
            break
        sleep(max(0.0, interval - (clock() - start - elapsed)))
    for q in soaks.values():
        summarise(q, restart_storm)
    result.queues = list(soaks.values())
    result.healthy = bool(soaks) and all(q.healthy for q in soaks.values())
    result.finished_at = datetime.now(UTC).isoformat()
    return result
