"""A read-only client for Sentry's documented REST API (``/api/0/``), SaaS or self-hosted alike.

It reads what the doctor needs and nothing else: a project's details (``GET /api/0/projects/{org}/
{project}/``, scope ``project:read``) and the organization's issues for those projects
(``GET /api/0/organizations/{org}/issues/``, scope ``event:read``) with their fields (``id``,
``shortId``, ``title``, ``culprit``, ``permalink``, ``firstSeen``, ``lastSeen``, ``count``,
``metadata{type,value}``, ``status``, ``stats``). Pages are followed through the ``Link`` header's
``rel="next"; results="true"`` cursor, within a bound. Every request has a timeout and the whole
series a deadline; a 429 (and a 502/503/504) is retried with backoff, honouring ``Retry-After``.

Errors are one of three kinds, each naming what would fix it: :class:`SentryAuthError` (401/403, with
the token scope needed), :class:`SentryNotFound` (404: the organization or project), and
:class:`SentryUnavailable` (no answer in time, a connection error, a server error after the retries,
malformed JSON). The bearer token is sent only to the configured origin (never along a redirect or a
``Link`` to another host) and never appears in a message.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from doctor import __version__
from doctor.util import parse_datetime

SAAS_URL = "https://sentry.io"
PAGE_SIZE = 100
MAX_BODY = 8 * 1024 * 1024  # bytes of one response; more is refused as malformed
RETRY_STATUSES = (429, 502, 503, 504)
SCOPE_PROJECT = "project:read"
SCOPE_EVENTS = "event:read"


class SentryError(Exception):
    """A Sentry API call that did not give an answer the doctor can use (message: one line, no secret)."""


class SentryAuthError(SentryError):
    """401/403: the token is missing, invalid, or lacks ``scope``."""

    def __init__(self, message: str, status: int, scope: str) -> None:
        super().__init__(message)
        self.status = status
        self.scope = scope


class SentryNotFound(SentryError):
    """404: the organization or project (``what``) does not exist for this token."""

    def __init__(self, message: str, what: str) -> None:
        super().__init__(message)
        self.what = what


class SentryUnavailable(SentryError):
    """No usable answer: timeout, connection error, server error after retries, rate limit past the
    deadline, malformed or oversized JSON."""


@dataclass(frozen=True)
class SentryIssue:
    """One issue (Sentry's "group") as the issues endpoints return it."""

    id: str
    short_id: str
    title: str
    culprit: str
    permalink: str
    project: str
    status: str
    level: str
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    error_type: str = ""
    error_value: str = ""
    stats: tuple[tuple[float, int], ...] = ()  # (bucket start, epoch seconds; events in the bucket)
    bucket_seconds: int = 3600

    def events_since(self, since: datetime) -> int:
        """Events in the stats buckets that overlap [since, now] (an upper bound at bucket granularity);
        0 when the issue was last seen before ``since``."""
        if self.last_seen is None or self.last_seen < since:
            return 0
        start = since.timestamp()
        counted = sum(n for at, n in self.stats if at + self.bucket_seconds > start)
        return max(counted, 1)  # last seen inside: at least that event, even when the stats lag

    def text(self) -> str:
        """What classifying the issue reads, one line each: title, culprit, "<exception type>: <value>"."""
        exception = ": ".join(p for p in (self.error_type, self.error_value) if p)
        return "\n".join(p for p in (self.title, self.culprit, exception) if p)


@dataclass
class SentryClient:
    """``base_url``: the Sentry site (``https://sentry.io`` or a self-hosted one; a trailing ``/api/0``
    is accepted). ``deadline``: a ``time.monotonic()`` instant no request or retry may pass."""

    base_url: str
    token: str
    timeout: float = 10.0
    max_pages: int = 5
    retries: int = 3
    max_backoff: float = 30.0
    deadline: float | None = None
    sleep: Callable[[float], None] = time.sleep
    requests: list[str] = field(default_factory=list)  # paths asked for, in order (tests, evidence)
    _truncated: bool = field(default=False, init=False, repr=False)  # the last page series left pages unread

    def __post_init__(self) -> None:
        base = self.base_url.strip().rstrip("/")
        base = re.sub(r"/api/0$", "", base)
        parts = urllib.parse.urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"Sentry url {self.base_url!r} must be an http(s) URL")
        self.base_url = base
        self._origin = (parts.scheme, parts.netloc)
        self._opener = urllib.request.build_opener(_NoRedirect)

    # --- the endpoints --------------------------------------------------------------------------
    def project(self, org: str, project: str) -> dict[str, Any]:
        """``GET /api/0/projects/{org}/{project}/`` (scope project:read): the project, incl. its numeric id."""
        path = f"/api/0/projects/{_seg(org)}/{_seg(project)}/"
        data, _ = self._get(path, {}, SCOPE_PROJECT, f"project {org}/{project}")
        if not isinstance(data, dict) or "id" not in data:
            raise SentryUnavailable(f"Sentry answered {path} without a project id")
        return data

    def issues(self, org: str, project_ids: list[str], *, environment: str | None = None,
               query: str = "is:unresolved", period: str = "14d",
               stats_period: str = "24h") -> tuple[list[SentryIssue], bool]:
        """The organization's issues of ``project_ids`` matching ``query`` with events in the last ``period``
        (scope event:read), each with its ``stats_period`` timeline (``groupStatsPeriod``: 24h hourly, 14d
        daily buckets), every page up to ``max_pages``; and whether more pages were left unread."""
        params: list[tuple[str, str]] = [("project", p) for p in project_ids]
        params += [("query", query), ("statsPeriod", period), ("groupStatsPeriod", stats_period),
                   ("limit", str(PAGE_SIZE))]
        if environment:
            params.append(("environment", environment))
        path = f"/api/0/organizations/{_seg(org)}/issues/"
        out: list[SentryIssue] = []
        for page in self._pages(path, params, SCOPE_EVENTS, f"organization {org}"):
            if not isinstance(page, list):
                raise SentryUnavailable(f"Sentry answered {path} with a {type(page).__name__}, not a list of issues")
            out.extend(_issue(item, self.base_url, org, stats_period) for item in page if isinstance(item, dict))
        return out, self._truncated

    # --- transport ----------------------------------------------------------------------------------
    def _pages(self, path: str, params: list[tuple[str, str]], scope: str, what: str) -> Iterator[Any]:
        self._truncated = False
        url: str | None = self._url(path, params)
        for n in range(self.max_pages):
            assert url is not None
            data, headers = self._request(url, scope, what)
            yield data
            url = _next_link(headers.get("Link", ""))
            if url is None:
                return
            url = self._same_origin(url)
            if n == self.max_pages - 1:
                self._truncated = True

    def _get(self, path: str, params: Mapping[str, str], scope: str, what: str) -> tuple[Any, Mapping[str, str]]:
        return self._request(self._url(path, list(params.items())), scope, what)

    def _url(self, path: str, params: list[tuple[str, str]]) -> str:
        return self.base_url + path + (("?" + urllib.parse.urlencode(params)) if params else "")

    def _same_origin(self, url: str) -> str:
        """A ``Link`` URL re-rooted on the configured origin: the token never travels to another host."""
        parts = urllib.parse.urlsplit(url)
        if (parts.scheme, parts.netloc) == self._origin:
            return url
        return urllib.parse.urlunsplit((*self._origin, parts.path, parts.query, ""))

    def _request(self, url: str, scope: str, what: str) -> tuple[Any, Mapping[str, str]]:
        path = urllib.parse.urlsplit(url).path
        self.requests.append(path)
        for attempt in range(self.retries + 1):
            self._check_deadline(path)
            req = urllib.request.Request(url, headers={"Accept": "application/json",
                                                       "User-Agent": f"ame-doctor/{__version__}"})
            req.add_unredirected_header("Authorization", f"Bearer {self.token}")
            try:
                with self._opener.open(req, timeout=self._timeout()) as resp:
                    body = self._read(resp, path)
                    return _json(body, path), resp.headers
            except urllib.error.HTTPError as e:
                status = e.code
                if status in RETRY_STATUSES and attempt < self.retries:
                    self._wait(path, status, e.headers.get("Retry-After"), attempt)
                    continue
                raise _http_error(status, path, scope, what) from None
            except TimeoutError:
                raise SentryUnavailable(f"Sentry did not answer {path} within {self.timeout:g}s") from None
            except urllib.error.URLError as e:
                reason = e.reason
                if isinstance(reason, TimeoutError):
                    raise SentryUnavailable(f"Sentry did not answer {path} within {self.timeout:g}s") from None
                raise SentryUnavailable(f"cannot reach Sentry at {self.base_url}: {reason}") from None
            except (ConnectionError, OSError) as e:
                raise SentryUnavailable(f"cannot reach Sentry at {self.base_url}: {e}") from None
        raise SentryUnavailable(f"Sentry kept failing on {path}")  # pragma: no cover - the loop returns or raises

    def _timeout(self) -> float:
        if self.deadline is None:
            return self.timeout
        return max(0.1, min(self.timeout, self.deadline - time.monotonic()))

    def _check_deadline(self, path: str) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise SentryUnavailable(f"out of time before asking Sentry for {path}")

    def _read(self, resp: Any, path: str) -> bytes:
        """The body, bounded in size and in time (a server that trickles bytes still hits the deadline)."""
        limit = time.monotonic() + self.timeout
        if self.deadline is not None:
            limit = min(limit, self.deadline)
        chunks: list[bytes] = []
        size = 0
        while chunk := resp.read1(65536):
            size += len(chunk)
            if size > MAX_BODY:
                raise SentryUnavailable(f"Sentry's answer to {path} is larger than {MAX_BODY // 2**20} MB")
            if time.monotonic() > limit:
                raise SentryUnavailable(f"Sentry did not finish answering {path} within {self.timeout:g}s")
            chunks.append(chunk)
        return b"".join(chunks)

    def _wait(self, path: str, status: int, retry_after: str | None, attempt: int) -> None:
        delay = _retry_after_seconds(retry_after)
        if delay is None:
            delay = min(self.max_backoff, 0.5 * 2 ** attempt)
        left = None if self.deadline is None else self.deadline - time.monotonic()
        if delay > self.max_backoff or (left is not None and delay >= left):
            why = "rate limited (429)" if status == 429 else f"HTTP {status}"
            raise SentryUnavailable(f"Sentry {why} on {path}: Retry-After {delay:g}s is past the time left")
        self.sleep(delay)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: an API answer is never a redirect, and the token must not travel."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None


def _seg(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _json(body: bytes, path: str) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        where = f" (line {e.lineno}: {e.msg})" if isinstance(e, json.JSONDecodeError) else ""
        raise SentryUnavailable(f"Sentry answered {path} with malformed JSON{where}") from None


def _http_error(status: int, path: str, scope: str, what: str) -> SentryError:
    if status == 401:
        return SentryAuthError(f"Sentry refused the token (401) on {path}: missing, invalid or expired", 401, scope)
    if status == 403:
        return SentryAuthError(f"Sentry refused {path} (403): the token needs the scope {scope}", 403, scope)
    if status == 404:
        return SentryNotFound(f"Sentry has no {what} (404 on {path})", what)
    if status == 429:
        return SentryUnavailable(f"Sentry kept rate-limiting {path} (429) after the retries")
    return SentryUnavailable(f"Sentry answered {path} with HTTP {status}")


_LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[A-Za-z]+\s*=\s*"[^"]*")*)')
_PARAM = re.compile(r'([A-Za-z]+)\s*=\s*"([^"]*)"')


def _next_link(header: str) -> str | None:
    """The URL of the ``rel="next"`` link when it says ``results="true"`` (Sentry's pagination)."""
    for m in _LINK.finditer(header or ""):
        params = dict(_PARAM.findall(m.group(2)))
        if params.get("rel") == "next":
            return m.group(1) if params.get("results", "true") == "true" else None
    return None


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _issue(item: dict[str, Any], base_url: str, org: str, stats_period: str) -> SentryIssue:
    meta: dict[str, Any] = item["metadata"] if isinstance(item.get("metadata"), dict) else {}
    project: dict[str, Any] = item["project"] if isinstance(item.get("project"), dict) else {}
    raw_stats = item["stats"].get(stats_period) if isinstance(item.get("stats"), dict) else None
    stats: list[tuple[float, int]] = []
    for point in raw_stats or []:
        try:
            stats.append((float(point[0]), int(point[1])))
        except (TypeError, ValueError, IndexError):
            continue
    try:
        count = int(item.get("count") or 0)
    except (TypeError, ValueError):
        count = 0
    issue_id = str(item.get("id", ""))
    return SentryIssue(
        id=issue_id, short_id=str(item.get("shortId") or issue_id), title=str(item.get("title") or ""),
        culprit=str(item.get("culprit") or ""),
        permalink=str(item.get("permalink") or f"{base_url}/organizations/{org}/issues/{issue_id}/"),
        project=str(project.get("slug") or ""), status=str(item.get("status") or ""),
        level=str(item.get("level") or ""), count=count, first_seen=parse_datetime(item.get("firstSeen")),
        last_seen=parse_datetime(item.get("lastSeen")), error_type=str(meta.get("type") or ""),
        error_value=str(meta.get("value") or ""), stats=tuple(stats),
        bucket_seconds=86400 if stats_period == "14d" else 3600,
    )
