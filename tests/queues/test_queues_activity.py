"""What the workers' log lines say they are doing (doctor/queues/activity.py): job lines of both Laravel formats,
their run times, and when a service counts as consuming. Pure functions, no AWS."""

from __future__ import annotations

import pytest

from doctor.queues import WorkerActivity, parse_job_line, parse_run_time


@pytest.mark.parametrize("text,seconds", [
    ("120.36ms", 0.12), ("4s", 4.0), ("2m 41s", 161.0), ("1h 2m", 3720.0), ("3m 2s 250ms", 182.25), ("", None),
    ("soon", None)])
def test_run_times_as_queue_work_prints_them(text: str, seconds: float | None) -> None:
    assert parse_run_time(text) == seconds


@pytest.mark.parametrize("line,status,job,run", [
    ("  2026-11-30 10:00:00 App\\Jobs\\ResizeImage ........................ 2m 41s DONE", "done",
     "App\\Jobs\\ResizeImage", 161.0),
    ("  2026-11-30 10:00:00 App\\Jobs\\ResizeImage ........................ 12.43ms FAIL", "failed",
     "App\\Jobs\\ResizeImage", 0.012),
    ("  2026-11-30 10:00:00 App\\Jobs\\ResizeImage ................................ RUNNING", "started",
     "App\\Jobs\\ResizeImage", None),
    ("  2026-11-30 10:00:00 App\\Jobs\\SyncFeed 81f2 ................... 4s DONE", "done", "App\\Jobs\\SyncFeed",
     4.0),  # -v adds the job id
    ("App\\Jobs\\SyncFeed ..... 120ms DONE", "done", "App\\Jobs\\SyncFeed", 0.12),
    ("[2020-01-01 10:00:00][42] Processing: App\\Jobs\\SyncFeed", "started", "App\\Jobs\\SyncFeed", None),
    ("[2020-01-01 10:03:00][42] Processed:  App\\Jobs\\SyncFeed", "done", "App\\Jobs\\SyncFeed", None),
    ("[2020-01-01 10:03:00][43] Failed:     App\\Jobs\\SyncFeed", "failed", "App\\Jobs\\SyncFeed", None),
])
def test_job_lines_of_both_formats(line: str, status: str, job: str, run: float | None) -> None:
    parsed = parse_job_line(line)
    assert parsed is not None and (parsed.status, parsed.job, parsed.run_s) == (status, job, run)


@pytest.mark.parametrize("line", [
    "   INFO  Processing jobs from the [image] queue.",  # the worker's start banner
    "[2026-11-30 10:00:00] production.ERROR: App\\Jobs\\ResizeImage has been attempted too many times.",
    "everything DONE", "Job DONE", ""])
def test_other_lines_are_not_job_lines(line: str) -> None:
    assert parse_job_line(line) is None


def test_activity_counts_jobs_and_the_longest_run_of_either_format() -> None:
    act = WorkerActivity("app-image", running_tasks=2, steady=True, since=0.0)
    act.add([(100.0, "   INFO  Processing jobs from the [image] queue."),
             (300.0, "  2026-11-30 10:00:00 App\\Jobs\\ResizeImage ......... 3m 20s DONE"),
             (301.0, "  2026-11-30 10:03:21 App\\Jobs\\ResizeImage ......... 15.2ms FAIL")])
    act.add([(200.0, "[2026-11-30 10:00:00][7] Processing: App\\Jobs\\SyncFeed"),
             (500.0, "[2026-11-30 10:05:00][7] Processed:  App\\Jobs\\SyncFeed")])
    assert (act.tasks_read, act.started, act.done, act.failed, act.last_job_at) == (2, 1, 2, 1, 500.0)
    assert (act.longest_run_s, act.longest_job) == (300.0, "App\\Jobs\\SyncFeed")  # Processing -> Processed
    assert act.consuming
    ev = act.evidence()
    assert ev["jobs_done"] == 2 and ev["longest_run_s"] == 300.0 and ev["consuming"] is True
    assert ev["last_job_at"] == "1970-01-01T00:08:20+00:00"


@pytest.mark.parametrize("running,steady,lines,consuming", [
    (2, True, ["  2026-11-30 10:00:00 App\\Jobs\\ResizeImage ....... 4s DONE"], True),
    (2, True, ["   INFO  Processing jobs from the [image] queue."], False),   # started, no job since
    (2, False, ["  2026-11-30 10:00:00 App\\Jobs\\ResizeImage ....... 4s DONE"], False),  # not steady
    (0, True, ["  2026-11-30 10:00:00 App\\Jobs\\ResizeImage ....... 4s DONE"], False),   # nothing running now
])
def test_consuming_needs_running_steady_tasks_that_logged_jobs(running: int, steady: bool, lines: list[str],
                                                               consuming: bool) -> None:
    act = WorkerActivity("app-image", running_tasks=running, steady=steady, since=0.0)
    act.add([(1.0, line) for line in lines])
    assert act.consuming is consuming
