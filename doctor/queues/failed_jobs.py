"""Recent rows of Laravel's ``failed_jobs`` table, grouped by queue and exception, and what they say.

Laravel writes a job that exhausted its tries (or failed for good) to ``failed_jobs`` with the queue name
and the exception's text; the first line of ``exception`` names the exception class. The doctor reads the
last hour in a read-only session.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from doctor.queues.report import ToReport
from doctor.redact import clip

FAILED_JOBS_SQL = (
    "SELECT queue, SUBSTRING_INDEX(exception, '\\n', 1) AS head, COUNT(*) AS n, MAX(failed_at) AS last, "
    "UNIX_TIMESTAMP(MIN(failed_at)) AS first "
    "FROM failed_jobs WHERE failed_at >= NOW() - INTERVAL %s MINUTE "
    "GROUP BY queue, head ORDER BY n DESC LIMIT 50"
)


class FailedJobsUnavailable(Exception):
    def __init__(self, reason: str, missing_table: bool = False, timed_out: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing_table = missing_table
        self.timed_out = timed_out  # connect | answer: the server never answered (a dead endpoint)


def exception_class(first_line: str) -> str:
    """``Illuminate\\Database\\QueryException: SQLSTATE...`` -> ``Illuminate\\Database\\QueryException``."""
    m = re.match(r"\s*([A-Za-z_\\][\w\\]*)(?::|\s|$)", first_line)
    return m.group(1) if m else clip(first_line, 80)


def read_failed_jobs(host: str, port: int, user: str | None, password: str | None, database: str | None,
                     minutes: int = 60, timeout: float = 5.0, read_timeout: float | None = None) -> list[dict[str, Any]]:
    """Failures in the last ``minutes``, grouped by queue and first exception line. Read-only session.
    ``timeout`` bounds the connect, ``read_timeout`` (default ``timeout``) each answer.

    Rows: ``{"queue", "exception", "first_line", "count", "last_failed_at", "first_failed_at"}`` (the first as
    ISO 8601 UTC: UNIX_TIMESTAMP reads a TIMESTAMP column whatever the session's time zone), most frequent first."""
    import pymysql

    read = read_timeout or timeout
    try:
        conn = pymysql.connect(host=host, port=port, user=user or "", password=password or "", database=database,
                               connect_timeout=timeout, read_timeout=read, write_timeout=read,
                               autocommit=True, charset="utf8mb4")
    except pymysql.MySQLError as e:
        raise FailedJobsUnavailable(f"cannot connect to {host}:{port}: {_mysql_msg(e)}",
                                    timed_out=_timeout_phase(e)) from None
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION READ ONLY")
            cur.execute(FAILED_JOBS_SQL, (int(minutes),))
            rows = cur.fetchall()
    except pymysql.MySQLError as e:
        code = e.args[0] if e.args else None
        if code == 1146:
            raise FailedJobsUnavailable(f"table {database}.failed_jobs does not exist", missing_table=True) from None
        raise FailedJobsUnavailable(f"query failed: {_mysql_msg(e)}",
                                    timed_out="answer" if _timeout_phase(e) else None) from None
    finally:
        conn.close()
    out = []
    for queue, head, n, last, first in rows:
        head = (head or "").strip()
        out.append({"queue": str(queue), "exception": exception_class(head), "first_line": clip(head, 300),
                    "count": int(n), "last_failed_at": str(last),
                    "first_failed_at": datetime.fromtimestamp(float(first), UTC).isoformat() if first else None})
    return out


def _mysql_msg(e: Exception) -> str:
    return str(e.args[1]) if len(e.args) > 1 else str(e)


def _timeout_phase(e: Exception) -> str | None:
    """``connect`` (2003: the TCP connect timed out), ``answer`` (connected, the server went silent) or None."""
    if "timed out" not in _mysql_msg(e).lower():
        return None
    return "connect" if e.args and e.args[0] == 2003 else "answer"


def judge_failed_jobs(rows: list[dict[str, Any]], service_for: Callable[[str], str | None],
                      database: str | None) -> list[ToReport]:
    """One ``failed_jobs_recent`` per queue with failures (rows as :func:`read_failed_jobs` returns them,
    most frequent first; ``first_line`` already redacted), in queue order."""
    by_queue: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_queue.setdefault(row["queue"], []).append(row)
    out = []
    for queue, items in sorted(by_queue.items()):
        total = sum(i["count"] for i in items)
        top = items[0]
        service = service_for(queue)
        out.append(ToReport(
            "failed_jobs_recent", queue,
            evidence={"queue": queue, "failed_last_hour": total, "by_exception": items, "database": database,
                      "vantage": "host", **({"service": service} if service else {})},
            resources=[queue] + ([service] if service else []),
            values={"queue": queue, "total": total, "exception": top["exception"], "count": top["count"]}))
    return out
