"""Error signatures on the axis: for each worker service and signature of :mod:`doctor.signatures`, the first
and the last log line in the window (``FilterLogEvents`` on the service's awslogs group and stream prefix,
oldest first, at most ``max_pages`` pages per service). One symptom per (service, signature), at the first
line; the last line, the count and a redacted sample are its detail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from doctor.facts import Facts
from doctor.model import TimelineEvent, TimelineKind
from doctor.redact import Redactor
from doctor.signatures import match_line
from doctor.timeline.context import ServiceContext
from doctor.timeline.sources import SourceRead, Window, iso, when
from doctor.timeline.tokens import token

PAGE_LIMIT = 10_000  # the API's maximum events per page
MAX_SAMPLE = 200


@dataclass
class _Seen:
    title: str
    first: datetime
    last: datetime
    count: int
    sample: str


def read(out: SourceRead, facts: Facts, contexts: dict[str, ServiceContext], window: Window, max_pages: int,
         redactor: Redactor) -> None:
    logs = facts.aws.client("logs")
    for name, ctx in sorted(contexts.items()):
        if not ctx.log_group:
            continue
        if window.expired():
            out.cut_short("stopped by the run deadline")
            return
        seen, complete = _scan(logs, ctx, window, max_pages)
        if not complete:
            out.cut_short(f"{ctx.log_group}: more than {max_pages} pages, the last lines not read")
        for signal, s in sorted(seen.items()):
            out.events.append(TimelineEvent(
                id=f"logs:{name}:{signal}", at=iso(s.first), kind=TimelineKind.symptom, source="logs",
                title=f"{name}: first '{s.title}' ({s.count} line{'s' if s.count != 1 else ''}, last {iso(s.last)})",
                resources=[token("service", name)], services=[name], signals=[signal],
                detail={"log_group": ctx.log_group, "lines": s.count, "last": iso(s.last),
                        "sample": redactor.scrub(s.sample),
                        "phrase": {"symptom": f"the first '{s.title}' on {name}"}}))


def _scan(logs: Any, ctx: ServiceContext, window: Window, max_pages: int) -> tuple[dict[str, _Seen], bool]:
    """Signal -> first/last/count over the pages read; and whether every page was read."""
    seen: dict[str, _Seen] = {}
    kwargs: dict[str, Any] = {"logGroupName": ctx.log_group, "startTime": int(window.since.timestamp() * 1000),
                              "endTime": int(window.until.timestamp() * 1000), "limit": PAGE_LIMIT}
    if ctx.stream_prefix:
        kwargs["logStreamNamePrefix"] = ctx.stream_prefix
    for _ in range(max_pages):
        resp = logs.filter_log_events(**kwargs)
        for ev in resp.get("events", []):
            message = str(ev.get("message", ""))
            sigs = match_line(message)
            if not sigs:
                continue
            at = when(ev.get("timestamp", 0) / 1000)
            if at is None:
                continue
            for sig in sigs:
                s = seen.get(sig.signal)
                if s is None:
                    seen[sig.signal] = _Seen(sig.title, at, at, 1, message.strip()[:MAX_SAMPLE])
                    continue
                s.count += 1
                if at < s.first:
                    s.first, s.sample = at, message.strip()[:MAX_SAMPLE]
                s.last = max(s.last, at)
        token_ = resp.get("nextToken")
        if not token_ or token_ == kwargs.get("nextToken") or window.expired():
            return seen, not token_ or token_ == kwargs.get("nextToken")
        kwargs["nextToken"] = token_
    return seen, False
