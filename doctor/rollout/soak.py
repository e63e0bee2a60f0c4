"""The soak window, observed: sample the queues at an interval, then judge the trend.

Each sample is one set of queue views (from whatever sampler the caller injects: the real checks, a
script in tests). Per queue the soak gives the backlog trend, drain rate, time to empty, restarts and
new error signals, and six verdicts (the sixth: the burst/drain controller not failing), each with a note
saying why; the soak is healthy when every queue passes all six. The verdicts follow the platform's
healthy-state definition:

- a queue held at desired 0 is "idle at 0 (in range)": steady, nothing ran, nothing failed — unless work
  waits for it: idle with a backlog is the finding;
- "backlog trending down under normal ingest": down or empty, or small (up to ``[queues.X]
  healthy_backlog_per_task`` jobs per running task) with live consumers and completions in the window;
  growing, or flat and large, is not;
- "jobs not failing in loops" needs failure evidence (a release loop or exhausted tries, failed_jobs rising,
  attempts rising at the head), never its absence.
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

WATCH_SCHEMA_VERSION = 2  # 2: per-sample consumers/completions/failures, per-queue state and verdict notes
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
    consuming: bool | None = None      # its consumers logged finished jobs recently (None: not read)
    jobs_done: int | None = None       # jobs they logged as done in the log window
    last_job_at: str | None = None
    head_job: str | None = None        # the job at the head of the ready list
    max_attempts: int | None = None    # highest attempts among the sampled head and delayed jobs
    failed_last_hour: int | None = None


class QueueSoak(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue: str
    service: str
    range: tuple[int, int] = (0, 0)
    baseline: int = 1
    healthy_backlog_per_task: int = 5
    samples: list[Sample] = Field(default_factory=list)
    state: str = ""  # "running N/M", "idle at 0 (in range)", "idle at 0 with a backlog of N"
    drain_rate_per_min: float | None = None
    time_to_empty_s: float | None = None
    restarts: int = 0
    new_errors: list[str] = Field(default_factory=list)
    verdicts: dict[str, bool] = Field(default_factory=dict)
    notes: dict[str, str] = Field(default_factory=dict)  # verdict -> why
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
                  steady=view.steady, stopped_in_window=view.stopped_in_window, signals=sorted(view.signals),
                  consuming=view.consuming, jobs_done=view.jobs_done, last_job_at=view.last_job_at,
                  head_job=view.head_job, max_attempts=view.max_attempts, failed_last_hour=view.failed_last_hour)


def _rising(values: list[int | None]) -> tuple[int, int] | None:
    """(first, last) of the known values when the last is above the first, else None."""
    known = [v for v in values if v is not None]
    return (known[0], known[-1]) if len(known) >= 2 and known[-1] > known[0] else None


def _completions(samples: list[Sample]) -> str | None:
    """What shows jobs completing during the window (new job lines, the head job moving, the backlog falling),
    or None. One sample: consumers that logged finished jobs recently."""
    for before, after in zip(samples, samples[1:], strict=False):
        if after.last_job_at and after.last_job_at != before.last_job_at:
            return f"job lines up to {after.last_job_at}"
        if after.head_job and before.head_job and after.head_job != before.head_job:
            return "the head job moved"
        if before.backlog is not None and after.backlog is not None and after.backlog < before.backlog:
            return f"backlog fell {before.backlog} -> {after.backlog}"
    if len(samples) == 1 and samples[0].consuming:
        return f"{samples[0].jobs_done} job(s) logged as done recently"
    return None


def _failures(q: QueueSoak, signals: set[str]) -> str | None:
    """The evidence of jobs failing in loops, or None: a release loop or exhausted tries, failed_jobs rising,
    attempts rising at the head."""
    found = []
    loops = sorted(signals & FAILING_QUEUE_SIGNALS)
    if loops:
        found.append(", ".join(loops))
    failed = _rising([s.failed_last_hour for s in q.samples])
    if failed:
        found.append(f"failed_jobs in the last hour rose {failed[0]} -> {failed[1]}")
    attempts = _rising([s.max_attempts for s in q.samples])
    if attempts:
        found.append(f"attempts at the head rose {attempts[0]} -> {attempts[1]}")
    return "; ".join(found) or None


def _backlog(q: QueueSoak, known: list[tuple[float, int]], idle: bool) -> tuple[bool, str]:
    """Backlog trending down under normal ingest (verdict, note)."""
    if not known:
        return False, "backlog unknown (queue.state could not read Redis)"
    first, last = known[0][1], known[-1][1]
    if idle:
        return (last == 0, "idle at 0 (in range), nothing waiting" if last == 0 else
                f"idle at 0 with a backlog of {last}: nothing consumes it (wake it: ame-doctor gate --scale "
                f"{q.queue}={q.baseline})")
    running = q.samples[-1].running
    small = q.healthy_backlog_per_task * max(running, 0)
    peak = max(n for _, n in known)
    if last == 0:
        return True, "empty"
    if len(known) >= 2 and (q.drain_rate_per_min or 0) > 0 and peak > small:
        return True, f"trending down {first} -> {last} ({q.drain_rate_per_min:+g}/min)"
    if peak <= small:
        live = running > 0 and q.samples[-1].steady
        done = _completions(q.samples)
        if live and done:
            return True, (f"small and flat: up to {peak} job(s), within {q.healthy_backlog_per_task} per running task "
                          f"x {running}, with live consumers and completions ({done})")
        return False, (f"small ({peak} <= {small}) but " +
                       ("no live consumer" if not live else "no completion seen in the window"))
    if last > first:
        return False, f"growing {first} -> {last} ({-(q.drain_rate_per_min or 0):+g}/min)"
    if len(known) < 2:
        return False, f"{last} job(s), above {small} ({q.healthy_backlog_per_task} per running task), one sample"
    return False, f"flat and large: {first} -> {last}, above {small} ({q.healthy_backlog_per_task} per running task)"


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
    # held at 0 for the whole window, in range: nothing ran
    idle = bool(q.samples) and all(s.desired == 0 and s.running == 0 for s in q.samples) and q.range[0] == 0
    if idle:
        q.state = ("idle at 0 (in range)" if not known or known[-1][1] == 0
                   else f"idle at 0 with a backlog of {known[-1][1]}")
    else:
        q.state = f"running {last.running}/{last.desired}" if last else "not sampled"
    backlog_ok, backlog_note = _backlog(q, known, idle)
    failures = None if idle else _failures(q, all_signals)
    failed_jobs = [s.failed_last_hour for s in q.samples if s.failed_last_hour is not None]
    storm = (last.stopped_in_window if last else 0) >= restart_storm
    conn = [x for x in q.new_errors if x.startswith(CONNECTIVITY_PREFIXES)]
    controller = sorted(all_signals & CONTROLLER_FAILING_SIGNALS)
    checks = {
        "steady state reached": (idle or bool(last and last.steady),
                                 "idle at 0 (in range)" if idle else
                                 f"{last.running}/{last.desired} running, steady" if last and last.steady else
                                 f"not steady: {last.running}/{last.desired} running" if last else "not sampled"),
        "no restart storm": (not storm, f"{last.stopped_in_window if last else 0} stopped task(s) in the window "
                                        f"(a storm is {restart_storm} or more)"),
        "jobs not failing in loops": (failures is None, failures or ("nothing ran (idle at 0)" if idle else
                                      "no failure evidence: no release loop or exhausted tries, failed_jobs " +
                                      (f"flat at {failed_jobs[-1]}" if failed_jobs else "not rising") +
                                      ", attempts not rising")),
        "backlog trending down": (backlog_ok, backlog_note),
        "no fresh connectivity errors": (not conn, ", ".join(conn) or "none"),
        "controller not failing": (not controller, ", ".join(controller) or "not failing"),
    }
    q.verdicts = {name: ok for name, (ok, _) in checks.items()}
    q.notes = {name: note for name, (_, note) in checks.items()}
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
            q = soaks.setdefault(name, QueueSoak(queue=name, service=v.service, range=v.scale, baseline=v.baseline,
                                                 healthy_backlog_per_task=v.healthy_backlog_per_task))
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
