"""What a worker service's recent log lines say it is doing: pure functions on ``(epoch seconds, line)`` events.

``php artisan queue:work`` writes one line per job to stdout:

- Laravel 9+: ``  2026-11-30 10:00:00 App\\Jobs\\ResizeImage ........ 2m 41s DONE`` (or ``FAIL``; the run time is
  ``120.36ms`` below a second, else a short human interval such as ``4s`` or ``2m 41s``); the first 9.x releases
  also wrote a ``... RUNNING`` line when a job started.
- Laravel 8 and older: ``[2026-11-30 10:00:00][<job id>] Processing: App\\Jobs\\ResizeImage``, then
  ``Processed:`` or ``Failed:`` with the same job id (the run time is the difference).

The worker's start banner (``INFO  Processing jobs from the [image] queue.``) is not a job line. A service whose
running tasks are steady and wrote job lines recently is consuming: it pops its queue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_NEW = re.compile(r"^\s*(?:(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s+)?(?P<job>[^\s.]\S*)(?:\s+[\w-]+(?=\s+\.))?"
                  r"(?P<dots>\s+\.[.\s]*?)?\s+(?P<run>(?:\d[\d.,]*\s?[a-zA-Z]+\s+)*?)(?P<status>DONE|FAIL|RUNNING)\s*$")
_OLD = re.compile(r"^\[(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\]\[(?P<id>[^\]]*)\]\s+(?P<status>Processing|Processed|Failed):"
                  r"\s+(?P<job>\S+)")
_UNIT_S = {"ms": 0.001, "s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60,
           "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400}
_STATUS = {"DONE": "done", "FAIL": "failed", "RUNNING": "started", "Processing": "started", "Processed": "done",
           "Failed": "failed"}


@dataclass(frozen=True)
class JobLine:
    status: str                 # started | done | failed
    job: str                    # the job's class (displayName)
    run_s: float | None = None  # how long the job ran (done / failed lines of Laravel 9+)
    job_id: str | None = None   # Laravel 8 and older
    stamp: str | None = None    # the line's own timestamp as written: the job's start (9+), the event's time (<= 8)


def parse_run_time(text: str) -> float | None:
    """``120.36ms`` -> 0.12036, ``2m 41s`` -> 161.0, ``1h 2m`` -> 3720.0; None when it names no duration."""
    total, seen = 0.0, False
    for number, unit in re.findall(r"(\d+(?:[.,]\d+)?)\s?([a-zA-Z]+)", text):
        factor = _UNIT_S.get(unit.lower())
        if factor is None:
            return None
        total += float(number.replace(",", ".")) * factor
        seen = True
    return round(total, 3) if seen else None


def parse_job_line(line: str) -> JobLine | None:
    """The job line ``line`` is (either format), or None."""
    m = _NEW.match(line)
    if m and (m["at"] or m["dots"]):
        status = _STATUS[m["status"]]
        run = parse_run_time(m["run"]) if status != "started" else None
        return JobLine(status, m["job"], run, stamp=m["at"])
    m = _OLD.match(line)
    if m:
        return JobLine(_STATUS[m["status"]], m["job"], job_id=m["id"] or None, stamp=m["at"])
    return None


@dataclass
class WorkerActivity:
    """One worker service's state as a consumer: its running tasks, and the job lines they wrote recently."""

    service: str
    running_tasks: int          # tasks RUNNING now
    steady: bool                # running == desired > 0, nothing pending
    since: float                # epoch seconds: the start of the lines read
    tasks_read: int = 0         # task log streams read
    started: int = 0
    done: int = 0
    failed: int = 0
    last_job_at: float | None = None
    longest_run_s: float | None = None
    longest_job: str | None = None
    problem: str | None = None  # why the lines could not be read (None: read)

    @property
    def jobs(self) -> int:
        return self.started + self.done + self.failed

    @property
    def consuming(self) -> bool:
        """Running, steady tasks that processed jobs recently: this service pops its queue."""
        return self.running_tasks > 0 and self.steady and self.jobs > 0

    def add(self, events: list[tuple[float, str]]) -> None:
        """Count the job lines among ``events`` of one task's stream (oldest first)."""
        self.tasks_read += 1
        running: dict[str, str] = {}  # Laravel <= 8: job id -> start timestamp
        for at, line in events:
            job = parse_job_line(line)
            if job is None:
                continue
            setattr(self, job.status, getattr(self, job.status) + 1)
            self.last_job_at = max(self.last_job_at or at, at)
            run = job.run_s
            if job.job_id and job.stamp:
                if job.status == "started":
                    running[job.job_id] = job.stamp
                elif job.job_id in running:
                    run = _seconds_between(running.pop(job.job_id), job.stamp)
            if run is not None and (self.longest_run_s is None or run > self.longest_run_s):
                self.longest_run_s, self.longest_job = run, job.job

    def evidence(self) -> dict[str, object]:
        return {"service": self.service, "running_tasks": self.running_tasks, "steady": self.steady,
                "task_streams_read": self.tasks_read, "jobs_started": self.started, "jobs_done": self.done,
                "jobs_failed": self.failed, "last_job_at": _iso(self.last_job_at), "since": _iso(self.since),
                "longest_run_s": self.longest_run_s, "longest_job": self.longest_job, "consuming": self.consuming,
                **({"problem": self.problem} if self.problem else {})}


def _seconds_between(start: str, end: str) -> float | None:
    try:
        fmt = "%Y-%m-%d %H:%M:%S"
        return (datetime.strptime(end, fmt) - datetime.strptime(start, fmt)).total_seconds()
    except ValueError:
        return None


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts is not None else None
