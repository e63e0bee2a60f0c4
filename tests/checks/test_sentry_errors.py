"""sentry.errors against the local Sentry stand-in (Sentry's documented shapes) and the moto world.

moto gaps bent here (never in the product):
- ECS deployments carry ``createdAt`` = the moment moto created the service (seconds before the test); a
  deployment "an hour ago" is set on moto's backend service object (``backdate_deployments``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from doctor.checkapi import CheckContext
from doctor.config import Config
from doctor.model import CheckStatus, Finding, RunStatus, Severity
from doctor.sim.sentry_server import SentryStandIn

from support import ecs_helpers
from support.ecs_helpers import backend_service, kinds, run_check, run_checks, signals

moto_session = ecs_helpers.moto_session

ID = "sentry.errors"
TOKEN = "sntrys_checks-test-token-5f1e2d3c"
TOKEN_ENV = "AME_TEST_SENTRY_TOKEN"
ORG, PROJECT = "zentra", "propertyfeedtemplate-workers"
CLUSTER = "propertyfeedtemplate-production"
REDIS_TITLE = "RedisException: Connection timed out [tcp://master.ame-redis.x.euw1.cache.amazonaws.com:6379]"
DB_TITLE = ("Illuminate\\Database\\QueryException: SQLSTATE[HY000] [2002] Connection timed out "
            "(Connection: mysql, SQL: select * from `jobs`)")


@pytest.fixture
def sentry(monkeypatch: pytest.MonkeyPatch) -> Iterator[SentryStandIn]:
    server = SentryStandIn(organization=ORG, projects={PROJECT: "11"}).start()
    server.add_token(TOKEN)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    yield server
    server.stop()


def sentry_config(server: SentryStandIn, **kw: Any) -> dict[str, Any]:
    return {"url": server.url, "organization": ORG, "projects": [PROJECT], "environment": "production",
            "queue_tag": "queue", "token_env": TOKEN_ENV, "timeout": 3, **kw}


def backdate_deployments(minutes: float) -> None:
    """Every service's deployments started ``minutes`` ago (moto: when the service was created)."""
    for queue in ("sync", "image", "bulk"):
        s = backend_service(CLUSTER, f"propertyfeedtemplate-{queue}")
        for d in s.deployments:
            d["createdAt"] = datetime.now(UTC) - timedelta(minutes=minutes)


def issue(server: SentryStandIn, title: str, minutes_ago: float, count: int = 1, queue: str | None = None,
          error_type: str = "", error_value: str = "") -> str:
    issue_id = server.add_issue(PROJECT, title, culprit="App\\Jobs\\ResizeImage::handle", error_type=error_type,
                                error_value=error_value)
    server.add_event(issue_id, datetime.now(UTC) - timedelta(minutes=minutes_ago), count=count,
                     tags={"queue": queue} if queue else None)
    return issue_id


def by_kind(result: Any, kind: str) -> list[Finding]:
    return [f for f in result.findings if f.uid.split(":")[1] == kind]


def test_not_configured_is_skipped_and_does_not_degrade_the_run(world: Any) -> None:
    report = run_checks(ID, "ecs.service")
    r = report.check(ID)
    assert r is not None and r.status == CheckStatus.skipped
    assert r.summary.startswith("not configured: set [sentry] organization and projects")
    assert report.status == RunStatus.healthy


def test_no_token_is_unknown_naming_the_variable(world: Any, sentry: SentryStandIn,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    r = run_check(ID, sentry=sentry_config(sentry))
    assert r.status == CheckStatus.unknown
    assert f"${TOKEN_ENV} is not set" in r.summary and r.unlock and TOKEN_ENV in r.unlock


def test_active_burst_next_to_historical_issues(world: Any, sentry: SentryStandIn) -> None:
    backdate_deployments(60)
    burst = issue(sentry, REDIS_TITLE, minutes_ago=4, count=7, queue="image")
    old_db = issue(sentry, DB_TITLE, minutes_ago=3 * 24 * 60, count=40)
    r = run_check(ID, sentry=sentry_config(sentry))
    assert r.status == CheckStatus.fail, r
    [active] = by_kind(r, "redis_burst")
    assert active.signals == ["sentry.redis_burst"] and active.severity == Severity.error
    assert active.evidence["queue"] == "image" and active.evidence["service"] == "propertyfeedtemplate-image"
    assert active.evidence["count_in_window"] == 7 and active.evidence["issue"] == burst
    assert active.evidence["permalink"] in active.detail and active.evidence["permalink"] in active.resources
    assert "7 Redis connection error(s)" in active.title
    [old] = by_kind(r, "historical")
    assert old.severity == Severity.info and old.signals == ["sentry.historical_open"]
    assert old.evidence["issue"] == old_db and old.evidence["class"] == "db"
    assert "days ago" in old.title and "before the last 30 min" in old.title
    assert "quiet" not in kinds(r)


def test_an_issue_silent_since_the_current_deployment_is_historical(world: Any, sentry: SentryStandIn) -> None:
    backdate_deployments(10)  # deployed 10 min ago: a burst 20 min ago was the previous deployment's
    issue(sentry, REDIS_TITLE, minutes_ago=20, count=50, queue="image")
    r = run_check(ID, sentry=sentry_config(sentry))
    assert r.status == CheckStatus.passed, r
    [old] = by_kind(r, "historical")
    assert "before the current deployment of propertyfeedtemplate-image" in old.title
    assert signals(r) == {"sentry.historical_open", "sentry.quiet"}
    [quiet] = by_kind(r, "quiet")
    assert "1 unresolved issue(s) silent" in quiet.title


def test_window_applies_when_the_deployment_is_older(world: Any, sentry: SentryStandIn) -> None:
    backdate_deployments(24 * 60)
    issue(sentry, DB_TITLE, minutes_ago=50, count=5)  # after the deployment, but outside a 30 min window
    issue(sentry, DB_TITLE.replace("timed out", "refused"), minutes_ago=10, count=2)
    r = run_check(ID, sentry=sentry_config(sentry))
    [active] = by_kind(r, "db_burst")
    assert active.evidence["count_in_window"] >= 2 and "queue" not in active.evidence  # untagged: platform-wide
    assert len(by_kind(r, "historical")) == 1
    wide = run_check(ID, sentry=sentry_config(sentry, window_minutes=90))
    assert len(by_kind(wide, "db_burst")) == 2


def test_classification_with_the_signature_catalogue(world: Any, sentry: SentryStandIn) -> None:
    backdate_deployments(60)
    issue(sentry, "Illuminate\\Queue\\MaxAttemptsExceededException: App\\Jobs\\ResizeImage has been attempted "
          "too many times.", minutes_ago=2, error_type="Illuminate\\Queue\\MaxAttemptsExceededException")
    issue(sentry, "RedisException", minutes_ago=3, error_type="RedisException", error_value="Connection refused")
    issue(sentry, "ErrorException: Undefined array key \"width\"", minutes_ago=1)
    issue(sentry, "PDOException: SQLSTATE[HY000] [1045] Access denied for user 'ame'@'10.20.1.7'", minutes_ago=5)
    r = run_check(ID, sentry=sentry_config(sentry))
    assert {"sentry.max_attempts_burst", "sentry.redis_burst", "sentry.other_burst", "sentry.auth_burst"} == signals(r)
    [other] = by_kind(r, "other_burst")
    assert other.severity == Severity.warning


def test_many_historical_issues_are_capped(world: Any, sentry: SentryStandIn) -> None:
    backdate_deployments(60)
    for n in range(23):
        issue(sentry, f"ErrorException: old failure {n}", minutes_ago=120 + n)
    r = run_check(ID, sentry=sentry_config(sentry))
    assert len(by_kind(r, "historical")) == 20
    [more] = by_kind(r, "historical_more")
    assert more.title.startswith("3 more unresolved Sentry issue(s)")


def test_403_is_unknown_naming_the_scope(world: Any, sentry: SentryStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    sentry.add_token("sntrys_project-only", ("project:read",))
    monkeypatch.setenv(TOKEN_ENV, "sntrys_project-only")
    r = run_check(ID, sentry=sentry_config(sentry))
    assert r.status == CheckStatus.unknown
    assert r.unlock == f"a Sentry token with event:read in ${TOKEN_ENV}"
    assert "sntrys_project-only" not in json.dumps(r.model_dump())


def test_401_is_unknown(world: Any, sentry: SentryStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "sntrys_revoked")
    r = run_check(ID, sentry=sentry_config(sentry))
    assert r.status == CheckStatus.unknown and "401" in r.summary
    assert r.unlock == f"a Sentry token with project:read in ${TOKEN_ENV}"


def test_404_names_the_project_and_the_others_are_read(world: Any, sentry: SentryStandIn) -> None:
    backdate_deployments(60)
    issue(sentry, REDIS_TITLE, minutes_ago=3)
    r = run_check(ID, sentry=sentry_config(sentry, projects=["propertyfeedtemplate-wrokers", PROJECT]))
    [missing] = by_kind(r, "project_missing")
    assert missing.title == f"Sentry has no project {ORG}/propertyfeedtemplate-wrokers (404)"
    assert by_kind(r, "redis_burst")
    org = run_check(ID, sentry=sentry_config(sentry, organization="zentr4"))
    [gone] = by_kind(org, "project_missing")  # the project endpoint is under the organization
    assert gone.uid == f"sentry.errors:project_missing:zentr4/{PROJECT}"


def test_unreachable_or_malformed_is_unknown(world: Any, sentry: SentryStandIn) -> None:
    sentry.malformed()
    r = run_check(ID, sentry=sentry_config(sentry))
    assert r.status == CheckStatus.unknown and "malformed JSON" in r.summary
    from doctor.sim.servers import free_port

    r = run_check(ID, sentry=sentry_config(sentry, url=f"http://127.0.0.1:{free_port()}"))
    assert r.status == CheckStatus.unknown and "cannot reach Sentry" in r.summary


def test_the_token_never_reaches_the_report(world: Any, sentry: SentryStandIn) -> None:
    backdate_deployments(60)
    issue(sentry, f"RuntimeException: token {TOKEN} leaked into a message", minutes_ago=2)
    report = run_checks(ID, sentry=sentry_config(sentry))
    assert TOKEN not in report.to_json()


# --- stale: the finished checks rule the cause out --------------------------------------------------------------
def _ctx() -> CheckContext:
    from checks.sentry_errors import META

    return CheckContext(META, Config(), None, None, None)  # type: ignore[arg-type]


def _f(uid: str, signal: str, **evidence: Any) -> Finding:
    return Finding(uid=uid, severity=Severity.info, title="t", signals=[signal], evidence=evidence)


def _seen(cls: str, service: str | None) -> Any:
    from checks.sentry_errors import Seen
    from doctor.sentry import SentryIssue

    i = SentryIssue(id="1", short_id="P-1", title="t", culprit="", permalink="p", project="p", status="unresolved",
                    level="error", count=1, first_seen=None, last_seen=None)
    return Seen(i, "image" if service else None, service, datetime.now(UTC), "b", cls)


def test_ruled_out_needs_the_ok_signal_from_each_task_and_no_problem() -> None:
    from checks.sentry_errors import _ruled_out

    services = [f"propertyfeedtemplate-{q}" for q in ("sync", "image", "bulk")]
    oks = [_f(f"reach.redis:ok:task:{s}", "reach.redis_ok", vantage=f"task:{s}") for s in services]
    host_ok = _f("reach.redis:ok:host", "reach.redis_ok", vantage="host")
    ctx = _ctx()
    assert _ruled_out(ctx, _seen("redis", "propertyfeedtemplate-image"), oks) == ["reach.redis:ok:task:propertyfeedtemplate-image"]
    assert len(_ruled_out(ctx, _seen("redis", None), oks)) == 3  # platform-wide: every service's task
    assert _ruled_out(ctx, _seen("redis", None), oks[:2] + [host_ok]) == []  # the host vantage is not the task's
    timeout = _f("reach.redis:timeout:task:x", "reach.redis_timeout", vantage="task:propertyfeedtemplate-sync")
    assert _ruled_out(ctx, _seen("redis", "propertyfeedtemplate-image"), [*oks, timeout]) == []
    assert _ruled_out(ctx, _seen(None, None), oks) == []  # unclassified: nothing can rule it out
    assert _ruled_out(ctx, _seen("db", None), oks) == []
