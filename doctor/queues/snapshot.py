"""One reading of a Laravel Redis queue: counts, stale entries and the head jobs, read with O(1) / O(log n)
commands only.

Per queue: ``LLEN``, ``ZCARD``, ``ZCOUNT``, ``ZRANGE 0 k`` and ``LRANGE 0 k`` with a small fixed ``k`` from
the head, in one pipelined round trip. Nothing reads a whole list, so the cost of an inspection does not
grow with the backlog (``bench/bench_queue.py`` measures it on 1,000,000 jobs). The key layout is described
in :mod:`doctor.queues.keys`.

Laravel's pop first moves due delayed jobs and expired reservations back to the ready list, so an entry
more than :data:`GRACE_SECONDS` past its score means nobody popped the key since.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from doctor.queues.keys import queue_key
from doctor.util import to_int

HEAD_SAMPLE = 3          # ready jobs read from the head (LRANGE 0 2)
DELAYED_SAMPLE = 5       # delayed jobs read from the lowest score (ZRANGE 0 4)
GRACE_SECONDS = 30.0     # a reservation / delayed job this far past its score means nobody popped


@dataclass
class HeadJob:
    id: str | None
    display_name: str | None
    attempts: int | None
    max_tries: int | None
    created_at: float | None
    age_source: str | None  # createdAt | pushedAt | None

    @classmethod
    def parse(cls, raw: bytes | str | None) -> HeadJob | None:
        if raw is None:
            return None
        try:
            p = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return HeadJob(None, None, None, None, None, None)
        if not isinstance(p, dict):
            return HeadJob(None, None, None, None, None, None)
        created: float | None = None
        source: str | None = None
        for k in ("createdAt", "pushedAt"):
            try:
                if p.get(k) not in (None, ""):
                    created, source = float(str(p[k]).split()[0]), k
                    break
            except ValueError:
                continue
        return HeadJob(
            id=str(p.get("id") or p.get("uuid") or "") or None,
            display_name=str(p["displayName"])[:200] if p.get("displayName") else None,
            attempts=to_int(p.get("attempts")), max_tries=to_int(p.get("maxTries")),
            created_at=created, age_source=source,
        )


@dataclass
class QueueSnapshot:
    name: str
    key: str
    db: int
    at: float
    ready: int = 0
    reserved: int = 0
    delayed: int = 0
    expired_reserved: int = 0
    overdue_delayed: int = 0
    oldest_expired_reserved_s: float | None = None
    oldest_overdue_delayed_s: float | None = None
    head: list[HeadJob] = field(default_factory=list)
    delayed_sample: list[HeadJob] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Queue size as Laravel reports it: ready + delayed + reserved."""
        return self.ready + self.reserved + self.delayed

    @property
    def head_id(self) -> str | None:
        return self.head[0].id if self.head else None

    @property
    def oldest_age_s(self) -> float | None:
        if self.head and self.head[0].created_at is not None:
            return max(0.0, round(self.at - self.head[0].created_at, 1))
        return None

    @property
    def age_source(self) -> str | None:
        return self.head[0].age_source if self.head else None

    def counts(self) -> dict[str, Any]:
        return {"queue": self.name, "key": self.key, "db": self.db, "ready": self.ready, "reserved": self.reserved,
                "delayed": self.delayed, "size": self.total, "expired_reservations": self.expired_reserved,
                "overdue_delayed": self.overdue_delayed, "oldest_ready_age_s": self.oldest_age_s,
                "age_source": self.age_source, "oldest_expired_reservation_s": self.oldest_expired_reserved_s,
                "oldest_overdue_delayed_s": self.oldest_overdue_delayed_s}

    def heads(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in asdict(h).items() if k != "created_at"} for h in self.head]


def inspect_queue(r: Any, prefix: str, name: str, db: int = 0, now: float | None = None,
                  grace: float = GRACE_SECONDS) -> QueueSnapshot:
    """One pipelined round trip of O(1) / O(log n) commands for ``<prefix>queues:<name>``."""
    now = time.time() if now is None else now
    key = queue_key(prefix, name)
    cutoff = now - grace
    p = r.pipeline(transaction=False)
    p.llen(key)
    p.zcard(key + ":reserved")
    p.zcard(key + ":delayed")
    p.zcount(key + ":reserved", "-inf", cutoff)
    p.zcount(key + ":delayed", "-inf", cutoff)
    p.zrange(key + ":reserved", 0, 0, withscores=True)
    p.lrange(key, 0, HEAD_SAMPLE - 1)
    p.zrange(key + ":delayed", 0, DELAYED_SAMPLE - 1, withscores=True)
    ready, reserved, delayed, exp, over, first_res, head, dsample_scored = p.execute()
    first_del = dsample_scored[:1]
    dsample = [m for m, _ in dsample_scored]
    snap = QueueSnapshot(name=name, key=key, db=db, at=now, ready=int(ready), reserved=int(reserved),
                         delayed=int(delayed), expired_reserved=int(exp), overdue_delayed=int(over))
    if exp and first_res:
        snap.oldest_expired_reserved_s = round(now - float(first_res[0][1]), 1)
    if over and first_del:
        snap.oldest_overdue_delayed_s = round(now - float(first_del[0][1]), 1)
    snap.head = [h for h in (HeadJob.parse(x) for x in head) if h is not None]
    snap.delayed_sample = [h for h in (HeadJob.parse(x) for x in dsample) if h is not None]
    return snap


def snapshot_from_probe(name: str, reading: dict[str, Any], now: float) -> QueueSnapshot | None:
    """The snapshot of queue ``name`` from the in-task probe's queue reading (``{"prefix", "db", "at",
    "queues": {name: {"ready", "reserved", "delayed", "expired_reserved", "overdue_delayed",
    "oldest_reserved_score", "oldest_delayed_score"}}}``); None when it holds no complete counts for it.

    The probe reads counts only (no head jobs); ``now`` stands in when the reading has no ``at``. An
    expired or overdue count without the oldest score is at least :data:`GRACE_SECONDS` old (the ZCOUNT
    bound)."""
    counts = (reading.get("queues") or {}).get(name)
    if not counts or any(not isinstance(counts.get(k), int) for k in ("ready", "reserved", "delayed")):
        return None
    prefix, db = str(reading.get("prefix", "")), to_int(reading.get("db"), 0)
    snap = QueueSnapshot(name=name, key=queue_key(prefix, name), db=db, at=float(reading.get("at") or now),
                         ready=counts["ready"], reserved=counts["reserved"], delayed=counts["delayed"],
                         expired_reserved=int(counts.get("expired_reserved") or 0),
                         overdue_delayed=int(counts.get("overdue_delayed") or 0))
    for attr, n, score in (("oldest_expired_reserved_s", snap.expired_reserved, counts.get("oldest_reserved_score")),
                           ("oldest_overdue_delayed_s", snap.overdue_delayed, counts.get("oldest_delayed_score"))):
        if n and isinstance(score, int | float):
            setattr(snap, attr, round(snap.at - float(score), 1))
        elif n:
            setattr(snap, attr, GRACE_SECONDS)
    return snap
