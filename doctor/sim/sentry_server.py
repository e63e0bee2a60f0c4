"""A local stand-in for Sentry's REST API (a real Sentry cannot run here), for the demo and the tests.

It serves the documented response shapes of the two endpoints the doctor reads — ``GET
/api/0/projects/{org}/{project}/`` and ``GET /api/0/organizations/{org}/issues/`` (``project``,
``environment``, ``query`` with ``is:unresolved`` and ``tag:value`` terms, ``statsPeriod`` as the
look-back, ``groupStatsPeriod`` 24h/14d timelines, ``limit``, ``cursor``) — and the project endpoint
``GET /api/0/projects/{org}/{project}/issues/``. Issues are computed from the events added with
:meth:`SentryStandIn.add_event` (``count``, ``firstSeen``, ``lastSeen``, ``stats``); pages carry
Sentry's ``Link`` header (``rel="previous"/"next"; results="true|false"; cursor="0:<offset>:<is_prev>"``).

Bearer tokens carry scopes (401 without a known token, 403 without the scope; bodies ``{"detail": ...}``
as Sentry sends them). Faults for tests: :meth:`rate_limit` (429 with ``Retry-After``), :meth:`delay`
(a slow server), :meth:`malformed` (a body that is not JSON).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PERIODS = {"h": 3600, "d": 86400, "w": 7 * 86400, "m": 60, "s": 1}


@dataclass
class _Issue:
    id: str
    short_id: str
    project: str
    title: str
    culprit: str
    error_type: str
    error_value: str
    level: str = "error"
    status: str = "unresolved"
    events: list[tuple[datetime, str, dict[str, str]]] = field(default_factory=list)  # (when, env, tags)


@dataclass
class SentryStandIn:
    """``organization`` with ``projects`` (slug -> numeric id); ``tokens`` (token -> scopes)."""

    organization: str = "zentra"
    projects: dict[str, str] = field(default_factory=lambda: {"propertyfeedtemplate-workers": "11"})
    tokens: dict[str, tuple[str, ...]] = field(default_factory=dict)
    page_size: int = 100  # the most issues one page holds (Sentry: limit, at most 100)
    host: str = "127.0.0.1"
    requests: list[dict[str, Any]] = field(default_factory=list)  # {path, query, authorized}
    _issues: dict[str, _Issue] = field(default_factory=dict)
    _faults: list[tuple[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> SentryStandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                stand_in._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="sentry-stand-in", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        return f"http://{self.host}:{self._server.server_address[1]}"

    # --- data ---------------------------------------------------------------------------------------
    def add_token(self, token: str, scopes: tuple[str, ...] = ("project:read", "event:read")) -> None:
        self.tokens[token] = scopes

    def add_issue(self, project: str, title: str, *, culprit: str = "", error_type: str = "", error_value: str = "",
                  level: str = "error", status: str = "unresolved") -> str:
        """A new issue of ``project`` (no events yet); returns its id."""
        with self._lock:
            issue_id = str(1000 + len(self._issues) + 1)
            n = sum(1 for i in self._issues.values() if i.project == project) + 1
            self._issues[issue_id] = _Issue(issue_id, f"{project.upper()}-{n}", project, title, culprit, error_type,
                                            error_value, level, status)
        return issue_id

    def add_event(self, issue_id: str, when: datetime, *, environment: str = "production",
                  tags: dict[str, str] | None = None, count: int = 1) -> None:
        with self._lock:
            self._issues[issue_id].events.extend([(when, environment, dict(tags or {}))] * count)

    # --- faults ---------------------------------------------------------------------------------------
    def rate_limit(self, times: int, retry_after: str | None = "1") -> None:
        """The next ``times`` requests get 429 (with ``Retry-After: retry_after`` unless None)."""
        self._faults.extend([("429", retry_after)] * times)

    def delay(self, seconds: float, times: int = 1) -> None:
        """The next ``times`` requests wait ``seconds`` before answering."""
        self._faults.extend([("delay", seconds)] * times)

    def malformed(self, times: int = 1) -> None:
        """The next ``times`` requests get a 200 whose body is not JSON."""
        self._faults.extend([("malformed", None)] * times)

    # --- serving ------------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(h.path)
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        auth = h.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        with self._lock:
            self.requests.append({"path": parts.path, "query": query, "authorized": token in self.tokens})
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            kind, value = fault
            if kind == "429":
                headers = {"Retry-After": value} if value is not None else {}
                return self._send(h, 429, {"detail": "You are attempting to use this endpoint too frequently."},
                                  headers)
            if kind == "delay":
                time.sleep(float(value))
            if kind == "malformed":
                return self._send_raw(h, 200, b'[{"id": "1", "title": ', {})
        if token not in self.tokens:
            return self._send(h, 401, {"detail": "Invalid token"})
        scopes = self.tokens[token]
        segs = [urllib.parse.unquote(s) for s in parts.path.strip("/").split("/")]
        if segs[:3] == ["api", "0", "projects"] and len(segs) == 5:
            return self._project(h, scopes, segs[3], segs[4])
        if segs[:3] == ["api", "0", "projects"] and len(segs) == 6 and segs[5] == "issues":
            project_id = self.projects.get(segs[4]) if segs[3] == self.organization else None
            if project_id is None:
                return self._send(h, 404, {"detail": "The requested resource does not exist"})
            return self._issues_page(h, scopes, parts, query, [segs[4]], default_period="")
        if segs[:3] == ["api", "0", "organizations"] and len(segs) == 5 and segs[4] == "issues":
            if segs[3] != self.organization:
                return self._send(h, 404, {"detail": "The requested resource does not exist"})
            by_id = {v: k for k, v in self.projects.items()}
            wanted = [by_id[p] for p in query.get("project", []) if p in by_id] or list(self.projects)
            return self._issues_page(h, scopes, parts, query, wanted, default_period="14d")
        return self._send(h, 404, {"detail": "The requested resource does not exist"})

    def _project(self, h: BaseHTTPRequestHandler, scopes: tuple[str, ...], org: str, slug: str) -> None:
        if "project:read" not in scopes:
            return self._send(h, 403, {"detail": "You do not have permission to perform this action."})
        if org != self.organization or slug not in self.projects:
            return self._send(h, 404, {"detail": "The requested resource does not exist"})
        return self._send(h, 200, {"id": self.projects[slug], "slug": slug, "name": slug,
                                   "organization": {"slug": self.organization, "name": self.organization},
                                   "platform": "php-laravel", "status": "active"})

    def _issues_page(self, h: BaseHTTPRequestHandler, scopes: tuple[str, ...], parts: urllib.parse.SplitResult,
                     query: dict[str, list[str]], projects: list[str], default_period: str) -> None:
        if "event:read" not in scopes:
            return self._send(h, 403, {"detail": "You do not have permission to perform this action."})
        now = datetime.now(UTC)
        envs = set(query.get("environment", []))
        text = (query.get("query") or ["is:unresolved"])[0]
        period = _seconds((query.get("statsPeriod") or [default_period])[0])
        group_stats = (query.get("groupStatsPeriod") or query.get("statsPeriod") or ["24h"])[0]
        if group_stats not in ("24h", "14d", ""):
            group_stats = "24h"
        terms = dict(t.split(":", 1) for t in text.split() if ":" in t)
        if "environment" in terms:
            envs.add(terms.pop("environment"))
        wanted_status = terms.pop("is", None)
        with self._lock:
            items = []
            for issue in self._issues.values():
                if issue.project not in projects or (wanted_status and issue.status != wanted_status):
                    continue
                events = [(at, env, tags) for at, env, tags in issue.events
                          if (not envs or env in envs) and all(tags.get(k) == v for k, v in terms.items())
                          and (period is None or at >= now - timedelta(seconds=period))]
                if events:
                    items.append(self._issue_json(issue, events, now, group_stats))
        items.sort(key=lambda i: i["lastSeen"], reverse=True)
        limit = min(int((query.get("limit") or ["100"])[0] or 100), 100, self.page_size)
        offset = _offset((query.get("cursor") or [""])[0])
        page = items[offset:offset + limit]
        base = f"{self.url}{parts.path}"
        keep = [(k, v) for k, vs in query.items() if k != "cursor" for v in vs]

        def link(cursor: str, rel: str, results: bool) -> str:
            url = base + "?" + urllib.parse.urlencode([*keep, ("cursor", cursor)])
            return f'<{url}>; rel="{rel}"; results="{str(results).lower()}"; cursor="{cursor}"'

        prev = link(f"0:{max(0, offset - limit)}:1", "previous", offset > 0)
        nxt = link(f"0:{offset + limit}:0", "next", offset + limit < len(items))
        return self._send(h, 200, page, {"Link": f"{prev}, {nxt}"})

    def _issue_json(self, issue: _Issue, events: list[tuple[datetime, str, dict[str, str]]], now: datetime,
                    group_stats: str) -> dict[str, Any]:
        times = sorted(at for at, _, _ in events)
        stats: dict[str, list[list[int]]] = {}
        if group_stats:
            size = 3600 if group_stats == "24h" else 86400
            buckets = 24 if group_stats == "24h" else 14
            last = int(now.timestamp()) // size * size
            starts = [last - size * i for i in range(buckets - 1, -1, -1)]
            stats[group_stats] = [[s, sum(1 for t in times if s <= t.timestamp() < s + size)] for s in starts]
        return {
            "annotations": [], "assignedTo": None, "count": str(len(times)), "culprit": issue.culprit,
            "firstSeen": _iso(times[0]), "hasSeen": False, "id": issue.id, "isBookmarked": False,
            "isPublic": False, "isSubscribed": True, "lastSeen": _iso(times[-1]), "level": issue.level,
            "logger": None, "metadata": {"type": issue.error_type, "value": issue.error_value,
                                         "title": issue.title},
            "numComments": 0,
            "permalink": f"{self.url}/organizations/{self.organization}/issues/{issue.id}/",
            "project": {"id": self.projects[issue.project], "name": issue.project, "slug": issue.project},
            "shareId": None, "shortId": issue.short_id, "stats": stats, "status": issue.status,
            "statusDetails": {}, "subscriptionDetails": None, "title": issue.title, "type": "error",
            "userCount": 0,
        }

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        SentryStandIn._send_raw(h, status, json.dumps(body).encode(), headers or {})

    @staticmethod
    def _send_raw(h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seconds(period: str) -> int | None:
    """A Sentry period (``24h``, ``14d``, ``30m``) in seconds; None for "" (no bound)."""
    if not period or period[-1] not in PERIODS or not period[:-1].isdigit():
        return None
    return int(period[:-1]) * PERIODS[period[-1]]


def _offset(cursor: str) -> int:
    """The row offset of a Sentry cursor ``<id>:<offset>:<is_prev>``."""
    try:
        return max(0, int(cursor.split(":")[1]))
    except (IndexError, ValueError):
        return 0
