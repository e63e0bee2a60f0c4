"""Is a queue draining? Judged from its Redis readings: pure functions on plain data.

Queue depth alone is not health. Laravel's pop first moves due delayed jobs and expired reservations
(score = pop time + retry_after) back to the ready list, so entries past their score mean no worker has
popped the key since: no running worker, workers on another prefix/DB/connection/queue name, all workers
stuck in long jobs, or starvation behind a higher-priority queue. Jobs cycling through delayed with
attempts > 0 are popped, fail or time out and are released: the backlog churns without draining. A job
popped with attempts >= maxTries (the job's own, else the worker's ``--tries``) fails at once with
MaxAttemptsExceededException.

Stale entries are judged with the consumers' state: beside running, steady tasks that log finished jobs, an
expired reservation is a job that outlived ``retry_after`` (popped again mid-run) or whose worker stopped mid-job,
and an overdue delayed job waits for a busy worker — not a missing consumer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from doctor.queues.report import ToReport
from doctor.queues.routing import Consumer
from doctor.queues.snapshot import GRACE_SECONDS, QueueSnapshot


@dataclass(frozen=True)
class Reading:
    """Where and how a queue was read, beside its snapshots."""

    vantage: str               # "host" (the doctor's host) or "task:<service>" (the in-task probe)
    service: str | None = None  # the queue's own ECS service (None for ``default``)
    cluster: str = ""
    stranded: bool = False     # jobs of this queue sit under another key (a key split)


def judge_queue(q: str, snap: QueueSnapshot, readings: list[QueueSnapshot], c: Consumer | None,
                consumers: list[Consumer], where: Reading) -> list[ToReport]:
    """Depth, stale entries, exhausted tries, failing requeues and (over a sample) a head that never moved
    (``no_consumer`` read as ``head_stuck``).

    ``snap`` is the last of ``readings``; ``c`` the consumer configured for ``q`` (None for ``default``)."""
    ev = {**snap.counts(), "vantage": where.vantage, "head_jobs": snap.heads(), "grace_s": GRACE_SECONDS,
          "jobs_under_another_key": where.stranded}
    service = where.service
    if service:
        ev["service"] = service
    if c is not None:
        ev["location_source"] = c.location_source
    res = [snap.key] + ([service] if service else [])
    popping = [x for x in consumers if x.pops(q)]
    consuming = [x for x in popping if x.consuming(q)]
    running = sum(int(x.running or 0) for x in popping)
    routing_known = q == "default" or (c is not None and c.command is not None)
    ev["running_consumers"] = running if q != "default" else None
    if any(x.activity is not None for x in popping):
        ev["consumers"] = [x.activity.evidence() for x in popping if x.activity is not None]

    signals = ["queue.backlog"] if snap.ready > 0 else []
    if snap.total == 0 and not where.stranded:
        signals.append("queue.draining")
    out = [ToReport("depth", q, ev, res, {
        "queue": q, "ready": snap.ready, "reserved": snap.reserved, "delayed": snap.delayed,
        "oldest": f"; oldest ready {snap.oldest_age_s:g}s" if snap.oldest_age_s is not None else ""},
        signals=tuple(signals))]

    stale = snap.expired_reserved > 0 or snap.overdue_delayed > 0
    no_running = q != "default" and routing_known and running == 0
    if snap.ready > 0 and (stale or no_running) and not consuming:
        reasons = []
        if no_running:
            reasons.append("no running task of a service that consumes it" if popping else "no service consumes it")
        if snap.expired_reserved:
            reasons.append(f"{snap.expired_reserved} reservation(s) expired {snap.oldest_expired_reserved_s:g}s ago")
        if snap.overdue_delayed:
            reasons.append(f"{snap.overdue_delayed} delayed job(s) overdue by up to {snap.oldest_overdue_delayed_s:g}s")
        # popped by an ECS service, or (`default`) by the app hosts' workers
        out.append(ToReport("no_consumer", q, ev, res, {
            "queue": q, "ready": snap.ready, "reasons": "; ".join(reasons), "cluster": where.cluster, "service": service},
            severity="critical" if no_running else None, variant=None if service else "app_hosts"))
    if snap.expired_reserved and consuming:
        out.append(_expired_while_consuming(q, snap, consuming, ev, res))
    elif snap.expired_reserved:
        out.append(ToReport("stale_reservations", q, ev, res, {
            "queue": q, "expired": snap.expired_reserved, "oldest_s": snap.oldest_expired_reserved_s}))
    if snap.overdue_delayed:
        out.append(ToReport("overdue_delayed", q, ev, res, {
            "queue": q, "overdue": snap.overdue_delayed, "oldest_s": snap.oldest_overdue_delayed_s,
            "services": ", ".join(x.service for x in consuming)},
            severity=None if consuming or snap.ready or snap.overdue_delayed > 1 else "warning",
            variant="consumers_busy" if consuming else None))

    worker_tries = c.command.effective()["tries"] if c is not None and c.command is not None else None
    exhausted = []
    for h in [*snap.head, *snap.delayed_sample]:
        limit = h.max_tries if h.max_tries is not None else worker_tries
        if h.attempts is not None and limit and h.attempts >= limit:
            exhausted.append({"id": h.id, "job": h.display_name, "attempts": h.attempts, "max_tries": limit})
    if exhausted:
        out.append(ToReport("attempts_exhausted", q, {**ev, "exhausted": exhausted}, res,
                            {"queue": q, "count": len(exhausted)}))
    retried = [h for h in snap.delayed_sample if (h.attempts or 0) > 0]
    retried_head = [h for h in snap.head if (h.attempts or 0) > 0]
    if snap.delayed >= 5 and len(retried) * 2 >= max(1, len(snap.delayed_sample)) or (
            len(retried_head) >= 2 and snap.ready >= 5):
        out.append(ToReport(
            "failing_requeue", q,
            {**ev, "delayed_sample": [{"job": h.display_name, "attempts": h.attempts, "max_tries": h.max_tries}
                                      for h in snap.delayed_sample]}, res,
            {"queue": q, "retried": len(retried), "sampled": len(snap.delayed_sample),
             "retried_head": len(retried_head), "head": len(snap.head)}))
    # one reading of a stuck head over the sample window: nobody popped at all
    if len(readings) > 1 and snap.ready > 0 and all(r.head_id and r.head_id == snap.head_id for r in readings) \
            and all(r.ready >= readings[0].ready for r in readings) and snap.reserved == 0 \
            and not (snap.ready > 0 and (stale or no_running)):
        sampled = readings[-1].at - readings[0].at
        out.append(ToReport("no_consumer", q, {**ev, "sampled_s": round(sampled, 1)}, res,
                            {"queue": q, "sampled_s": sampled}, variant="head_stuck"))
    return out


def _expired_while_consuming(q: str, snap: QueueSnapshot, consuming: list[Consumer], ev: dict[str, Any],
                             res: list[str]) -> ToReport:
    """Expired reservations beside consumers seen processing jobs: nothing is missing a consumer. When the workers'
    --timeout reaches retry_after (or a logged job ran that long) the jobs outlive their reservation and are popped
    again mid-run; otherwise a worker stopped mid-job (``consumers_live``)."""
    timeout = max(x.command.effective()["timeout"] for x in consuming if x.command is not None)
    retry_after = min(x.retry_after for x in consuming)
    runs = [x.activity.longest_run_s for x in consuming if x.activity and x.activity.longest_run_s is not None]
    longest = max(runs) if runs else None
    values = {"queue": q, "expired": snap.expired_reserved, "oldest_s": snap.oldest_expired_reserved_s,
              "services": ", ".join(x.service for x in consuming), "timeout": timeout, "retry_after": retry_after,
              "tasks": sum(x.activity.running_tasks for x in consuming if x.activity),
              "longest": f"; the longest logged job ran {longest:g}s" if longest is not None else "",
              "suggested_retry_after": max(timeout, round(longest or 0)) + 30}
    evidence = {**ev, "worker_timeout_s": timeout, "retry_after_s": retry_after, "longest_run_s": longest}
    if timeout == 0 or timeout >= retry_after or (longest is not None and longest >= retry_after):
        return ToReport("jobs_outlive_retry_after", q, evidence, res, values)
    return ToReport("stale_reservations", q, evidence, res, values, variant="consumers_live")


def judge_trend(q: str, readings: list[QueueSnapshot], capped: bool, where: Reading) -> ToReport:
    """Growing (the ``trend`` kind itself), ``draining`` (with a time to empty), ``drained`` or ``flat`` over the
    ``--sample`` window (first to last reading)."""
    first, last = readings[0], readings[-1]
    elapsed = max(1e-6, last.at - first.at)
    rate_per_min = round((first.total - last.total) / elapsed * 60, 2)
    tte = round(last.total / (rate_per_min / 60), 1) if rate_per_min > 0 and last.total else (0.0 if last.total == 0
                                                                                               else None)
    ev = {**last.counts(), "vantage": where.vantage, "sampled_s": round(elapsed, 1), "readings": len(readings),
          "sizes": [r.total for r in readings], "drain_rate_per_min": rate_per_min, "time_to_empty_s": tte,
          "sample_capped_by_check_timeout": capped}
    if where.service:
        ev["service"] = where.service
    res = [last.key] + ([where.service] if where.service else [])
    values = {"queue": q, "first": first.total, "last": last.total, "elapsed_s": elapsed}
    if last.total > first.total:
        return ToReport("trend", q, ev, res, {**values, "growth_per_min": -rate_per_min},
                        signals=("queue.backlog_growing",))
    if rate_per_min > 0 or (last.total == 0 and not where.stranded):
        return ToReport("trend", q, ev, res, {**values, "rate_per_min": rate_per_min, "time_to_empty_s": tte},
                        signals=("queue.draining",), variant="draining" if tte else "drained")
    return ToReport("trend", q, ev, res, values, variant="flat")
