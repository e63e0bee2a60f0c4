"""sentry.errors — fresh Sentry error bursts of the workers, told apart from historical unresolved issues.

The issues come from :mod:`doctor.sentry` (Sentry's REST API); each is classified with the log signature
catalogue (:mod:`doctor.signatures`) into a class whose burst signal feeds the same playbook causes as the
startup logs. ACTIVE = events since the later of the affected service's current deployment and the window
(``[sentry] window_minutes``); the rest is HISTORICAL (info). A historical issue whose cause the finished
checks rule out (their ``*_ok`` signal, no problem signal of the class, for the issue's service) is read as
stale: safe to resolve in Sentry. The doctor only links to Sentry; it never changes it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from doctor.checkapi import CheckContext, check, load_meta
from doctor.model import Finding
from doctor.sentry import SentryAuthError, SentryClient, SentryError, SentryIssue, SentryNotFound
from doctor.signatures import match_line
from doctor.util import parse_datetime

META = load_meta(__file__)

MAX_HISTORICAL = 20  # historical issues listed one by one (most recently seen first); the rest are counted
TIME_MARGIN = 5.0    # seconds of the check's deadline kept free after the last Sentry request

# The signature catalogue's signal -> the Sentry class (the finding kind is "<class>_burst").
CLASS_OF = {
    "logs.redis_timeout": "redis", "logs.redis_refused": "redis", "logs.redis_dns": "redis",
    "logs.db_timeout": "db", "logs.db_refused": "db", "logs.db_dns": "db", "logs.db_auth": "auth",
    "logs.db_readonly": "readonly", "reach.redis_readonly": "readonly",
    "logs.max_attempts": "max_attempts", "logs.job_timeout": "max_attempts",
    "startup.runtime_dirs_missing": "runtime_dirs",
}


@dataclass(frozen=True)
class RuledOut:
    """A class's cause is ruled out for a service when every ``ok`` term holds and no ``problem`` signal is seen."""

    ok: tuple[tuple[str, str | None], ...]  # (signal, vantage "task" | None)
    problems: tuple[str, ...]


RULED_OUT = {
    "redis": RuledOut((("reach.redis_ok", "task"),),
                      ("reach.redis_timeout", "reach.redis_refused", "reach.redis_dns_failed",
                       "sg.redis_ingress_missing")),
    "db": RuledOut((("reach.aurora_ok", "task"),),
                   ("reach.aurora_timeout", "reach.aurora_refused", "reach.aurora_dns_failed",
                    "sg.aurora_ingress_missing")),
    "auth": RuledOut((("reach.aurora_ok", "task"),), ("reach.aurora_auth_failed", "reach.redis_auth_failed")),
    "readonly": RuledOut((("reach.aurora_ok", "task"), ("reach.redis_ok", "task")),
                         ("reach.aurora_reader", "reach.redis_readonly")),
    "max_attempts": RuledOut((("queue.draining", None),),
                             ("queue.failing_requeue", "queue.attempts_exhausted", "logs.max_attempts")),
    "runtime_dirs": RuledOut((("startup.ok", None),),
                             ("startup.runtime_dirs_missing", "probe.runtime_dir_unwritable")),
}


@dataclass
class Seen:
    """One issue with where it belongs and what bounds "active" for it."""

    issue: SentryIssue
    queue: str | None
    service: str | None
    since: datetime
    boundary: str
    cls: str | None

    @property
    def active(self) -> bool:
        return self.issue.last_seen is not None and self.issue.last_seen >= self.since


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    cfg = ctx.config.sentry
    if not cfg.configured:
        ctx.skip("not configured: set [sentry] organization and projects (token in $" + cfg.token_env + ")",
                 unlock="[sentry] organization, projects")
        return
    token = os.environ.get(cfg.token_env, "").strip()
    if not token:
        ctx.unknown(f"no Sentry token: ${cfg.token_env} is not set", unlock=f"${cfg.token_env} (scopes event:read, "
                    "project:read)")
        return
    ctx.redactor.add_secret(token)
    budget = (ctx.meta.timeout or ctx.config.run.check_timeout) - TIME_MARGIN
    client = SentryClient(cfg.url, token, timeout=cfg.timeout, max_pages=cfg.max_pages,
                          deadline=time.monotonic() + max(budget, 1.0))
    org = cfg.organization or ""
    try:
        ids, missing = _project_ids(client, org, cfg.projects)
        for project in missing:
            yield ctx.finding("project_missing", f"{org}/{project}", org=org, project=project, url=client.base_url,
                              evidence={"organization": org, "project": project, "url": client.base_url})
        if not ids:
            return
        seen, truncated = _read(ctx, client, org, ids)
    except SentryNotFound as e:
        yield ctx.finding("org_missing", org, org=org, url=client.base_url,
                          evidence={"organization": org, "url": client.base_url, "error": str(e)})
        return
    except SentryAuthError as e:
        ctx.unknown(str(e), unlock=f"a Sentry token with {e.scope} in ${cfg.token_env}")
        return
    except SentryError as e:
        ctx.unknown(f"Sentry not read: {e}", unlock=f"[sentry] url reachable from this host ({client.base_url})")
        return

    active = [s for s in seen if s.active]
    for s in sorted(active, key=lambda s: s.issue.last_seen or s.since, reverse=True):
        yield _burst(ctx, s)
    historical = sorted((s for s in seen if not s.active), key=lambda s: s.issue.last_seen or s.since, reverse=True)
    refuting = _finished_findings(ctx)
    for s in historical[:MAX_HISTORICAL]:
        yield _historical(ctx, s, refuting)
    if len(historical) > MAX_HISTORICAL:
        rest = historical[MAX_HISTORICAL:]
        link = f"{client.base_url}/organizations/{org}/issues/"
        yield ctx.finding("historical_more", org, more=len(rest), listed=MAX_HISTORICAL, link=link,
                          boundary=_window_text(ctx),
                          evidence={"issues": [s.issue.short_id for s in rest], "link": link})
    if not active:
        window_start = ctx.facts.now - timedelta(minutes=cfg.window_minutes)
        quiet = ctx.finding(
            "quiet", f"{org}/{'+'.join(cfg.projects)}", since=_clock(window_start), historical=len(historical),
            projects=", ".join(cfg.projects), environment=cfg.environment or "(all)",
            pages="some pages of older issues were not read" if truncated else "every page read",
            evidence={"organization": org, "projects": cfg.projects, "environment": cfg.environment,
                      "window_minutes": cfg.window_minutes, "historical": len(historical), "truncated": truncated,
                      "requests": len(client.requests)})
        ctx.summary = quiet.title
        yield quiet


# --- reading ---------------------------------------------------------------------------------------------
def _project_ids(client: SentryClient, org: str, slugs: list[str]) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    missing: list[str] = []
    for slug in slugs:
        try:
            ids.append(str(client.project(org, slug)["id"]))
        except SentryNotFound:
            missing.append(slug)
    return ids, missing


def _read(ctx: CheckContext, client: SentryClient, org: str, ids: list[str]) -> tuple[list[Seen], bool]:
    """Every unresolved issue of the projects once: attributed to a queue through ``[sentry] queue_tag`` (one
    query per queue), else platform-wide."""
    cfg = ctx.config.sentry
    starts = _deployment_starts(ctx)
    by_id: dict[str, Seen] = {}
    truncated = False
    if cfg.queue_tag:
        for queue, qcfg in ctx.config.queues.items():
            issues, more = client.issues(org, ids, environment=cfg.environment,
                                         query=f"is:unresolved {cfg.queue_tag}:{queue}")
            truncated |= more
            for issue in issues:
                by_id.setdefault(issue.id, _seen(ctx, issue, queue, qcfg.service, starts))
    issues, more = client.issues(org, ids, environment=cfg.environment)
    truncated |= more
    for issue in issues:
        by_id.setdefault(issue.id, _seen(ctx, issue, None, None, starts))
    return list(by_id.values()), truncated


def _deployment_starts(ctx: CheckContext) -> dict[str, datetime]:
    """Service -> when its current (PRIMARY) deployment started; {} when ECS cannot be read."""
    services = ctx.attempt("ECS services (current deployments)", ctx.facts.services)
    out: dict[str, datetime] = {}
    for name, svc in (services or {}).items():
        primary = next((d for d in (svc or {}).get("deployments", []) or [] if d.get("status") == "PRIMARY"), None)
        at = parse_datetime((primary or {}).get("createdAt"))
        if at is not None:
            out[name] = at
    return out


def _seen(ctx: CheckContext, issue: SentryIssue, queue: str | None, service: str | None,
          starts: dict[str, datetime]) -> Seen:
    window_start = ctx.facts.now - timedelta(minutes=ctx.config.sentry.window_minutes)
    # the issue's service, else (platform-wide) the oldest current deployment: never demote too much
    deployed = starts.get(service) if service else (min(starts.values()) if starts else None)
    deployed_service = service or (min(starts, key=lambda k: starts[k]) if starts else None)
    if deployed is not None and deployed > window_start:
        since = deployed
        boundary = ctx.text("boundary_deployment", service=deployed_service, at=_clock(deployed))
    else:
        since, boundary = window_start, _window_text(ctx)
    return Seen(issue, queue, service, since, boundary, _classify(issue))


def _classify(issue: SentryIssue) -> str | None:
    for line in issue.text().splitlines():
        for sig in match_line(line):
            if sig.signal in CLASS_OF:
                return CLASS_OF[sig.signal]
    return None


# --- reporting -------------------------------------------------------------------------------------------
def _evidence(ctx: CheckContext, s: Seen) -> dict[str, Any]:
    i = s.issue
    ev: dict[str, Any] = {
        "issue": i.id, "short_id": i.short_id, "permalink": i.permalink, "project": i.project, "title": i.title,
        "culprit": i.culprit, "exception": {"type": i.error_type, "value": i.error_value}, "status": i.status,
        "count_lifetime": i.count, "first_seen": _iso(i.first_seen), "last_seen": _iso(i.last_seen),
        "since": s.since.isoformat(), "boundary": s.boundary, "class": s.cls or "unclassified",
        "source": "sentry",
    }
    if s.queue:
        ev["queue"] = s.queue
    if s.service:
        ev["service"] = s.service
    return ev


def _burst(ctx: CheckContext, s: Seen) -> Finding:
    count = s.issue.events_since(s.since)
    ev = {**_evidence(ctx, s), "count_in_window": count, "count_basis": f"{s.issue.bucket_seconds // 3600}h stats buckets"}
    return ctx.finding(f"{s.cls or 'other'}_burst", s.issue.short_id, evidence=ev, resources=_resources(s),
                       **_values(ctx, s), count=count)


def _historical(ctx: CheckContext, s: Seen, refuting: list[Finding]) -> Finding:
    refuted_by = _ruled_out(ctx, s, refuting)
    ev = _evidence(ctx, s)
    if refuted_by:
        ev["ruled_out_by"] = refuted_by
    return ctx.finding("historical", s.issue.short_id, evidence=ev, resources=_resources(s),
                       variant="stale" if refuted_by else None, refuted_by=", ".join(refuted_by),
                       lifetime=s.issue.count, **_values(ctx, s))


def _values(ctx: CheckContext, s: Seen) -> dict[str, Any]:
    i = s.issue
    title = i.title if len(i.title) <= 120 else i.title[:117] + "..."
    return {"short_id": i.short_id, "issue_title": title, "permalink": i.permalink, "since": _clock(s.since),
            "boundary": s.boundary, "where": f"queue {s.queue}, " if s.queue else "",
            "last_seen": _ago(i.last_seen, ctx.facts.now)}


def _resources(s: Seen) -> list[str]:
    return [s.issue.permalink] + ([s.service] if s.service else [])


def _finished_findings(ctx: CheckContext) -> list[Finding]:
    out: list[Finding] = []
    for cid in META.after:
        result = ctx.result_of(cid)
        if result is not None:
            out.extend(result.findings)
    return out


def _ruled_out(ctx: CheckContext, s: Seen, findings: list[Finding]) -> list[str]:
    """The uids of the ``*_ok`` findings that rule the issue's cause out for its service(s), or [] when the
    finished checks do not (a term missing, or a problem of the class seen)."""
    rule = RULED_OUT.get(s.cls or "")
    if rule is None:
        return []
    services = [s.service] if s.service else [q.service for q in ctx.config.queues.values()]
    if any(sig in rule.problems for f in findings for sig in f.signals):
        return []
    uids: list[str] = []
    for signal, vantage in rule.ok:
        for service in services:
            match = next((f for f in findings if signal in f.signals and _about(f, service, vantage)), None)
            if match is None:
                return []
            uids.append(match.uid)
    return list(dict.fromkeys(uids))


def _about(f: Finding, service: str, vantage: str | None) -> bool:
    """The finding is about ``service`` from ``vantage`` ("task": its own task), or platform-wide."""
    seen_from = str(f.evidence.get("vantage") or "")
    if vantage == "task":
        return seen_from == f"task:{service}"
    own = f.evidence.get("service")
    return own in (None, service) or seen_from == f"task:{service}"


# --- formatting ------------------------------------------------------------------------------------------
def _window_text(ctx: CheckContext) -> str:
    return ctx.text("boundary_window", minutes=ctx.config.sentry.window_minutes)


def _clock(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _ago(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "never"
    seconds = max(0, int((now - at).total_seconds()))
    if seconds < 3600:
        ago = f"{seconds // 60} min ago"
    elif seconds < 2 * 86400:
        ago = f"{seconds // 3600} h ago"
    else:
        ago = f"{seconds // 86400} days ago"
    return f"{_clock(at)} ({ago})"

