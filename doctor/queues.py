"""Laravel Redis queue inspection, worker command parsing and failed_jobs — the data behind queue.state.

Cost: per queue only O(1) / O(log n) commands (``LLEN``, ``ZCARD``, ``ZCOUNT``, ``ZRANGE 0 k`` and
``LRANGE 0 k`` with a small fixed ``k`` from the head), one pipelined round trip; the key-split search is
a ``SCAN`` bounded by a call budget per DB. Nothing reads a whole list, so the cost of an inspection does
not grow with the backlog (``bench/bench_queue.py`` measures it on 1,000,000 jobs).

Key layout (``shared/knowledge/laravel-queues.md``): ``<prefix>queues:NAME`` list (ready, LPOP from the
head, so ``LINDEX 0`` is the oldest), ``:reserved`` zset (score = reservation expiry), ``:delayed`` zset
(score = available-at), ``:notify`` list.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from doctor.facts import slug
from doctor.resolve import is_ip, resolve_chain

HEAD_SAMPLE = 3          # ready jobs read from the head (LRANGE 0 2)
DELAYED_SAMPLE = 5       # delayed jobs read from the lowest score (ZRANGE 0 4)
GRACE_SECONDS = 30.0     # a reservation / delayed job this far past its score means nobody popped
SCAN_COUNT = 1000        # SCAN COUNT hint
SCAN_CALLS_PER_DB = 200  # SCAN budget per DB (~200k keys examined at most)
DEFAULT_RETRY_AFTER = 90
WORKER_DEFAULTS = {"tries": 1, "timeout": 60, "sleep": 3, "memory": 128, "max_jobs": 0, "max_time": 0, "backoff": 0}
_SUFFIXES = ("reserved", "delayed", "notify")


# --- keys -----------------------------------------------------------------------------------
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


# --- inspection -----------------------------------------------------------------------------
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
            attempts=_int(p.get("attempts")), max_tries=_int(p.get("maxTries")),
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
                "age_source": self.age_source}

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


# --- worker commands ------------------------------------------------------------------------
@dataclass
class WorkerCommand:
    command: str                      # the artisan command: queue:work | queue:listen | horizon
    connection: str | None            # positional connection argument (None: QUEUE_CONNECTION)
    queues: list[str] | None          # --queue list (None: the connection's default queue)
    options: dict[str, int]           # tries, timeout, sleep, memory, max_jobs, max_time, backoff (given ones)
    raw: str

    def effective(self) -> dict[str, int]:
        return {**WORKER_DEFAULTS, **self.options}


_INT_OPTS = {"tries": "tries", "timeout": "timeout", "sleep": "sleep", "memory": "memory",
             "max-jobs": "max_jobs", "max-time": "max_time", "backoff": "backoff", "rest": "rest"}


def command_words(container: dict[str, Any]) -> list[str]:
    """entryPoint + command of a container definition, with ``sh -c "..."`` bodies split into words."""
    words = list(container.get("entryPoint") or []) + list(container.get("command") or [])
    out: list[str] = []
    for w in words:
        if " " in w.strip():
            try:
                out.extend(shlex.split(w))
            except ValueError:
                out.extend(w.split())
        else:
            out.append(w)
    return out


def parse_worker_command(words: Sequence[str]) -> WorkerCommand | None:
    """Find ``artisan queue:work|queue:listen|horizon`` in ``words`` and parse its arguments."""
    idx = next((i for i, w in enumerate(words) if w in ("queue:work", "queue:listen", "horizon")), None)
    if idx is None:
        return None
    cmd = words[idx]
    connection: str | None = None
    queues: list[str] | None = None
    options: dict[str, int] = {}
    rest = list(words[idx + 1:])
    i = 0
    while i < len(rest):
        w = rest[i]
        if w in ("&&", ";", "||", "|"):
            break
        if w.startswith("--"):
            name, eq, value = w[2:].partition("=")
            takes_value = name == "queue" or name in _INT_OPTS
            if not eq and takes_value and i + 1 < len(rest) and not rest[i + 1].startswith("-"):
                value = rest[i + 1]
                i += 1
            if name == "queue":
                queues = [q.strip() for q in value.split(",") if q.strip()]
            elif name in _INT_OPTS:
                n = _int(value)
                if n is not None:
                    options[_INT_OPTS[name]] = n
        elif not w.startswith("-") and connection is None and cmd != "horizon":
            connection = w
        i += 1
    return WorkerCommand(cmd, connection, queues, options, " ".join(words))


# --- failed_jobs ----------------------------------------------------------------------------
FAILED_JOBS_SQL = (
    "SELECT queue, SUBSTRING_INDEX(exception, '\\n', 1) AS head, COUNT(*) AS n, MAX(failed_at) AS last "
    "FROM failed_jobs WHERE failed_at >= NOW() - INTERVAL %s MINUTE "
    "GROUP BY queue, head ORDER BY n DESC LIMIT 50"
)


class FailedJobsUnavailable(Exception):
    def __init__(self, reason: str, missing_table: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing_table = missing_table


def exception_class(first_line: str) -> str:
    """``Illuminate\\Database\\QueryException: SQLSTATE...`` -> ``Illuminate\\Database\\QueryException``."""
    m = re.match(r"\s*([A-Za-z_\\][\w\\]*)(?::|\s|$)", first_line)
    return m.group(1) if m else first_line[:80]


def read_failed_jobs(host: str, port: int, user: str | None, password: str | None, database: str | None,
                     minutes: int = 60, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Failures in the last ``minutes``, grouped by queue and first exception line. Read-only session."""
    import pymysql

    try:
        conn = pymysql.connect(host=host, port=port, user=user or "", password=password or "", database=database,
                               connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout,
                               autocommit=True, charset="utf8mb4")
    except pymysql.MySQLError as e:
        raise FailedJobsUnavailable(f"cannot connect to {host}:{port}: {_mysql_msg(e)}") from None
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION READ ONLY")
            cur.execute(FAILED_JOBS_SQL, (int(minutes),))
            rows = cur.fetchall()
    except pymysql.MySQLError as e:
        code = e.args[0] if e.args else None
        if code == 1146:
            raise FailedJobsUnavailable(f"table {database}.failed_jobs does not exist", missing_table=True) from None
        raise FailedJobsUnavailable(f"query failed: {_mysql_msg(e)}") from None
    finally:
        conn.close()
    out = []
    for queue, head, n, last in rows:
        head = (head or "").strip()
        out.append({"queue": str(queue), "exception": exception_class(head), "first_line": head[:300],
                    "count": int(n), "last_failed_at": str(last)})
    return out


def _mysql_msg(e: Exception) -> str:
    return str(e.args[1]) if len(e.args) > 1 else str(e)


# --- DNS --------------------------------------------------------------------------------------
def resolve_host(host: str, nameservers: Sequence[str], timeout: float = 3.0) -> str:
    """The address to connect to: via ``[dns] nameservers`` when set (CNAMEs followed), else the host itself."""
    if not nameservers or is_ip(host):
        return host
    res = resolve_chain(host, list(nameservers), timeout)
    if not res.ok or not res.addresses:
        raise LookupError(res.detail or f"{host}: {res.outcome}")
    return str(res.addresses[0])


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None
