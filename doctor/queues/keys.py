"""Where Laravel keeps a Redis queue: key names, the settings that produce a prefix, and a bounded SCAN
for the same queue under other prefixes or DBs (a key split).

Key layout of Laravel's Redis queue driver: ``<prefix>queues:NAME`` is the ready list (pushed with RPUSH,
popped with LPOP from the head, so ``LINDEX 0`` is the oldest job), ``<prefix>queues:NAME:reserved`` a
zset of jobs being run (score = reservation expiry, pop time + retry_after),
``<prefix>queues:NAME:delayed`` a zset of delayed or released jobs (score = available-at), and
``<prefix>queues:NAME:notify`` a list used by blocking pops. With Redis Cluster the name is a hash tag:
``queues:{NAME}``.

The SCAN is bounded by a call budget per DB, so a large keyspace costs at most
``SCAN_CALLS_PER_DB * SCAN_COUNT`` keys examined per DB.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from doctor.facts import slug

SCAN_COUNT = 1000        # SCAN COUNT hint
SCAN_CALLS_PER_DB = 200  # SCAN budget per DB (~200k keys examined at most)
_SUFFIXES = ("reserved", "delayed", "notify")


def queue_key(prefix: str, name: str) -> str:
    return f"{prefix}queues:{name}"


def split_queue_key(key: str) -> tuple[str, str, str] | None:
    """``<prefix>queues:<name>[:reserved|:delayed|:notify]`` -> (prefix, name, part) or None.

    ``part`` is ``ready`` for the list itself. Redis Cluster hash tags (``queues:{name}``) are unwrapped.
    """
    idx = key.rfind("queues:")
    while idx > 0 and key[idx - 1] not in (":", "_", "-", ".", "}"):
        idx = key.rfind("queues:", 0, idx)
    if idx < 0:
        return None
    prefix, rest = key[:idx], key[idx + len("queues:"):]
    part = "ready"
    head, sep, tail = rest.rpartition(":")
    if sep and tail in _SUFFIXES:
        rest, part = head, tail
    if rest.startswith("{") and rest.endswith("}"):
        rest = rest[1:-1]
    if not rest or ":" in rest:
        return None
    return prefix, rest, part


def prefix_origin(prefix: str, db: int) -> dict[str, Any]:
    """What Laravel settings produce ``prefix`` and ``db``: APP_NAME (default derivation) or REDIS_PREFIX."""
    out: dict[str, Any] = {"REDIS_DB": db}
    for suffix, sep in (("_database_", "_"), ("-database-", "-")):
        if prefix.endswith(suffix) and prefix[: -len(suffix)] and slug(prefix[: -len(suffix)], sep) == prefix[: -len(suffix)]:
            out["APP_NAME"] = f"any name that slugs to {prefix[: -len(suffix)]!r}"
            out["REDIS_PREFIX"] = f"unset (or {prefix!r})"
            if sep == "-":
                out["note"] = "Laravel 12 skeleton default (Str::slug(APP_NAME) . '-database-')"
            return out
    out["REDIS_PREFIX"] = repr(prefix) if prefix else "'' (empty: Laravel <= 5.7 or REDIS_PREFIX set empty)"
    return out


@dataclass
class KeyLocation:
    db: int
    prefix: str
    queue: str
    parts: dict[str, int] = field(default_factory=dict)  # ready|reserved|delayed|notify -> length

    @property
    def key(self) -> str:
        return queue_key(self.prefix, self.queue)


@dataclass
class ScanResult:
    locations: list[KeyLocation]
    dbs: list[int]
    complete: bool                       # every DB's SCAN reached cursor 0 within the budget
    calls: int = 0
    errors: list[str] = field(default_factory=list)


def keyspace_dbs(r: Any) -> list[int]:
    """DB indexes that hold keys (INFO keyspace works on ElastiCache, where CONFIG is disabled)."""
    info = r.info("keyspace")
    return sorted(int(k[2:]) for k in info if str(k).startswith("db") and str(k)[2:].isdigit())


def scan_queue_keys(client_for_db: Any, dbs: Iterable[int], budget: int = SCAN_CALLS_PER_DB) -> ScanResult:
    """Bounded SCAN of every DB for ``*queues:*``; lengths of the found keys are read with LLEN/ZCARD."""
    found: dict[tuple[int, str, str], KeyLocation] = {}
    complete = True
    calls = 0
    errors: list[str] = []
    dbs = list(dbs)
    for db in dbs:
        r = client_for_db(db)
        cursor = 0
        keys: list[tuple[str, str]] = []
        try:
            for _ in range(budget):
                cursor, batch = r.scan(cursor=cursor, match="*queues:*", count=SCAN_COUNT)
                calls += 1
                for raw in batch:
                    k = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
                    parsed = split_queue_key(k)
                    if parsed:
                        keys.append((k, parsed[2]))
                        loc = found.setdefault((db, parsed[0], parsed[1]), KeyLocation(db, parsed[0], parsed[1]))
                        loc.parts.setdefault(parsed[2], 0)
                if int(cursor) == 0:
                    break
            else:
                complete = False
            p = r.pipeline(transaction=False)
            for k, part in keys:
                (p.llen if part in ("ready", "notify") else p.zcard)(k)
            for (k, part), n in zip(keys, p.execute(), strict=True):
                parsed = split_queue_key(k)
                assert parsed is not None
                found[(db, parsed[0], parsed[1])].parts[part] = int(n)
        except Exception as e:  # a DB we cannot select (e.g. cluster mode) is reported, not fatal
            errors.append(f"db{db}: {type(e).__name__}: {e}")
            complete = False
    return ScanResult(sorted(found.values(), key=lambda x: (x.queue, x.db, x.prefix)), dbs, complete, calls, errors)
