"""Symptoms the checks already timed, read from the report: the backlog's start (oldest ready job), the oldest
expired reservation and overdue delayed job, the first failed job, Sentry's firstSeen; and a source that could
not be read says so."""

from __future__ import annotations

from datetime import timedelta

from doctor.model import CheckResult, SourceStatus, TimelineEvent, TimelineKind
from doctor.timeline.observed import read

from support.render import check, finding, report
from support.timeline import IMAGE, RUN_AT


def _events(*checks: CheckResult) -> dict[str, TimelineEvent]:
    rep = report(list(checks))
    return {e.id: e for src in read(rep) for e in src.events}


def test_queue_ages_become_symptoms_at_the_time_they_started() -> None:
    ev = {"queue": "image", "service": IMAGE, "oldest_ready_age_s": 1200.0, "oldest_expired_reservation_s": 3600.0,
          "oldest_overdue_delayed_s": None}
    depth = finding("queue.state:depth:image", "info", evidence=ev, signals=["queue.backlog"])
    stale = finding("queue.state:stale_reservations:image", "warning", evidence=ev, signals=["queue.stale_reservations"])
    failed = finding("queue.state:failed_jobs_recent:image", "warning", signals=["queue.failed_jobs_recent"],
                     evidence={"queue": "image", "service": IMAGE, "by_exception": [
                         {"exception": "App\\Exceptions\\Boom", "count": 12, "first_failed_at": "2026-11-28T01:26:00+00:00",
                          "last_failed_at": "2026-11-28 01:59:00"}]})
    events = _events(check("queue.state", "fail", [depth, stale, failed]))
    backlog = events["queue:image:depth"]
    assert backlog.at == (RUN_AT - timedelta(seconds=1200)).isoformat()
    assert backlog.kind == TimelineKind.symptom and backlog.finding == depth.uid
    assert events["queue:image:stale_reservations"].at == "2026-11-28T01:00:00+00:00"
    assert "queue:image:overdue_delayed" not in events  # no age: nothing to place
    first = events["queue:image:failed:App\\Exceptions\\Boom"]
    assert first.at == "2026-11-28T01:26:00+00:00" and first.services == [IMAGE]
    assert first.detail["phrase"]["symptom"] == "the first failed job on image (Boom)"


def test_sentry_first_seen_is_a_symptom_and_an_unconfigured_sentry_is_off() -> None:
    burst = finding("sentry.errors:redis_burst:WORKERS-9", "error", title="Redis timeouts burst", signals=["logs.redis_timeout"],
                    evidence={"short_id": "WORKERS-9", "first_seen": "2026-11-28T01:48:00+00:00", "service": IMAGE})
    [e] = _events(check("sentry.errors", "fail", [burst])).values()
    assert (e.id, e.source, e.at, e.signals) == (
        "sentry:WORKERS-9", "sentry", "2026-11-28T01:48:00+00:00", ["logs.redis_timeout"])
    sources = {s.name: s for s in read(report([check("sentry.errors", "skipped", summary="not configured")]))}
    assert sources["sentry"].status == SourceStatus.off and sources["sentry"].note == "not configured"


def test_a_check_that_could_not_read_leaves_its_source_partial() -> None:
    sources = {s.name: s for s in read(report([check("queue.state", "unknown", summary="Redis not reachable")]))}
    assert sources["queue"].status == SourceStatus.partial
    assert sources["queue"].note == "queue.state could not read everything: Redis not reachable"
