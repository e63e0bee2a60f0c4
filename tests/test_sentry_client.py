"""The Sentry REST client against the local stand-in serving Sentry's documented shapes: the issue fields,
Link-cursor pagination within a bound, 401/403 naming the scope, 404 naming the org/project, 429 with and
without Retry-After, a slow server, malformed JSON, and a token that never shows in any message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from doctor.sentry import (
    SentryAuthError,
    SentryClient,
    SentryError,
    SentryNotFound,
    SentryUnavailable,
    _next_link,
    _retry_after_seconds,
)
from doctor.sim.sentry_server import SentryStandIn

TOKEN = "sntrys_test-token-0123456789abcdef"
ORG = "zentra"
PROJECT = "propertyfeedtemplate-workers"


@pytest.fixture
def sentry() -> Iterator[SentryStandIn]:
    server = SentryStandIn(organization=ORG, projects={PROJECT: "11", "web": "12"}).start()
    server.add_token(TOKEN)
    yield server
    server.stop()


def client(server: SentryStandIn, token: str = TOKEN, **kw: object) -> tuple[SentryClient, list[float]]:
    slept: list[float] = []
    return SentryClient(server.url, token, sleep=slept.append, **kw), slept  # type: ignore[arg-type]


def redis_issue(server: SentryStandIn, minutes_ago: float = 5, count: int = 3, **tags: str) -> str:
    issue = server.add_issue(PROJECT, "RedisException: Connection timed out [tcp://master.ame-redis:6379]",
                             culprit="App\\Jobs\\ResizeImage::handle", error_type="RedisException",
                             error_value="Connection timed out [tcp://master.ame-redis:6379]")
    server.add_event(issue, datetime.now(UTC) - timedelta(minutes=minutes_ago), count=count, tags=tags)
    return issue


def test_issue_fields_from_the_documented_shape(sentry: SentryStandIn) -> None:
    issue_id = redis_issue(sentry, minutes_ago=5, count=3)
    sentry.add_event(issue_id, datetime.now(UTC) - timedelta(hours=5), count=2)
    c, _ = client(sentry)
    project = c.project(ORG, PROJECT)
    issues, truncated = c.issues(ORG, [project["id"]], environment="production")
    assert not truncated and len(issues) == 1
    i = issues[0]
    assert (i.id, i.short_id, i.project, i.status, i.count) == (issue_id, f"{PROJECT.upper()}-1", PROJECT,
                                                                "unresolved", 5)
    assert i.error_type == "RedisException" and "Connection timed out" in i.error_value
    assert i.permalink == f"{sentry.url}/organizations/{ORG}/issues/{issue_id}/"
    assert i.last_seen is not None and i.first_seen is not None and i.first_seen < i.last_seen
    assert len(i.stats) == 24 and sum(n for _, n in i.stats) == 5  # 24 hourly buckets
    assert i.events_since(datetime.now(UTC) - timedelta(minutes=30)) == 3
    assert i.events_since(datetime.now(UTC) - timedelta(minutes=1)) == 0  # silent since
    assert "RedisException" in i.text() and "ResizeImage" in i.text()
    asked = sentry.requests[-1]["query"]
    assert asked["project"] == ["11"] and asked["environment"] == ["production"]
    assert asked["query"] == ["is:unresolved"] and asked["groupStatsPeriod"] == ["24h"]


def test_environment_and_tag_terms_filter(sentry: SentryStandIn) -> None:
    redis_issue(sentry, queue="image")
    other = sentry.add_issue(PROJECT, "ErrorException: Undefined index: foo")
    sentry.add_event(other, datetime.now(UTC) - timedelta(minutes=3), environment="staging", tags={"queue": "bulk"})
    c, _ = client(sentry)
    image, _ = c.issues(ORG, ["11"], environment="production", query="is:unresolved queue:image")
    assert [i.error_type for i in image] == ["RedisException"]
    assert c.issues(ORG, ["11"], environment="production", query="is:unresolved queue:bulk")[0] == []
    assert len(c.issues(ORG, ["11"])[0]) == 2


def test_pagination_follows_link_cursors_within_the_bound(sentry: SentryStandIn) -> None:
    sentry.page_size = 2
    for n in range(5):
        redis_issue(sentry, minutes_ago=n + 1, count=1)
    c, _ = client(sentry)
    issues, truncated = c.issues(ORG, ["11"])
    assert len(issues) == 5 and len({i.id for i in issues}) == 5 and not truncated
    pages = [r for r in sentry.requests if r["path"].endswith("/issues/")]
    assert [r["query"].get("cursor") for r in pages] == [None, ["0:2:0"], ["0:4:0"]]
    assert all(r["authorized"] for r in pages)

    bounded, _ = client(sentry, max_pages=2)
    issues, truncated = bounded.issues(ORG, ["11"])
    assert len(issues) == 4 and truncated


def test_link_header_parsing_and_origin() -> None:
    header = ('<https://sentry.io/api/0/organizations/acme/issues/?&cursor=0:0:1>; rel="previous"; results="false"; '
              'cursor="0:0:1", <https://sentry.io/api/0/organizations/acme/issues/?&cursor=0:100:0>; rel="next"; '
              'results="true"; cursor="0:100:0"')
    assert _next_link(header) == "https://sentry.io/api/0/organizations/acme/issues/?&cursor=0:100:0"
    assert _next_link(header.replace('results="true"', 'results="false"')) is None
    assert _next_link("") is None
    c = SentryClient("https://sentry.example.com/api/0/", TOKEN)
    assert c.base_url == "https://sentry.example.com"
    # a Link to another host is re-rooted: the token only ever goes to the configured origin
    assert c._same_origin("https://evil.example.net/api/0/x/?cursor=0:100:0") == \
        "https://sentry.example.com/api/0/x/?cursor=0:100:0"
    with pytest.raises(ValueError, match="http"):
        SentryClient("sentry.io", TOKEN)


def test_401_without_a_valid_token(sentry: SentryStandIn) -> None:
    c, _ = client(sentry, token="sntrys_wrong-token-value")
    with pytest.raises(SentryAuthError) as e:
        c.project(ORG, PROJECT)
    assert e.value.status == 401 and e.value.scope == "project:read"
    assert "sntrys_wrong-token-value" not in str(e.value)


def test_403_names_the_missing_scope(sentry: SentryStandIn) -> None:
    sentry.add_token("sntrys_no-events-scope", ("project:read",))
    c, _ = client(sentry, token="sntrys_no-events-scope")
    assert c.project(ORG, PROJECT)["id"] == "11"
    with pytest.raises(SentryAuthError) as e:
        c.issues(ORG, ["11"])
    assert e.value.status == 403 and e.value.scope == "event:read" and "event:read" in str(e.value)

    sentry.add_token("sntrys_no-project-scope", ("event:read",))
    c, _ = client(sentry, token="sntrys_no-project-scope")
    with pytest.raises(SentryAuthError) as e:
        c.project(ORG, PROJECT)
    assert e.value.status == 403 and "project:read" in str(e.value)


def test_404_names_the_organization_or_project(sentry: SentryStandIn) -> None:
    c, _ = client(sentry)
    with pytest.raises(SentryNotFound) as e:
        c.project(ORG, "no-such-project")
    assert e.value.what == f"project {ORG}/no-such-project"
    with pytest.raises(SentryNotFound) as e:
        c.issues("no-such-org", ["11"])
    assert e.value.what == "organization no-such-org"


def test_429_is_retried_honouring_retry_after(sentry: SentryStandIn) -> None:
    redis_issue(sentry)
    sentry.rate_limit(2, retry_after="3")
    c, slept = client(sentry)
    issues, _ = c.issues(ORG, ["11"])
    assert len(issues) == 1 and slept == [3.0, 3.0]
    assert len([r for r in sentry.requests if r["path"].endswith("/issues/")]) == 3


def test_429_without_retry_after_backs_off_exponentially(sentry: SentryStandIn) -> None:
    sentry.rate_limit(2, retry_after=None)
    c, slept = client(sentry)
    assert c.issues(ORG, ["11"])[0] == []
    assert slept == [0.5, 1.0]


def test_429_that_never_ends_or_asks_too_long_is_unavailable(sentry: SentryStandIn) -> None:
    sentry.rate_limit(10, retry_after="1")
    c, slept = client(sentry, retries=2)
    with pytest.raises(SentryUnavailable, match="429"):
        c.issues(ORG, ["11"])
    assert slept == [1.0, 1.0]

    sentry._faults.clear()
    sentry.rate_limit(1, retry_after="3600")
    c, slept = client(sentry)
    with pytest.raises(SentryUnavailable, match="Retry-After 3600s"):
        c.issues(ORG, ["11"])
    assert slept == []


def test_retry_after_as_seconds_or_http_date() -> None:
    assert _retry_after_seconds("7") == 7.0
    assert _retry_after_seconds(None) is None and _retry_after_seconds("soon") is None
    later = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 25 <= (_retry_after_seconds(later) or 0) <= 31


def test_slow_server_times_out(sentry: SentryStandIn) -> None:
    sentry.delay(3)
    c, _ = client(sentry, timeout=0.5)
    with pytest.raises(SentryUnavailable, match=r"within 0.5s"):
        c.project(ORG, PROJECT)


def test_malformed_json_is_unavailable_not_a_crash(sentry: SentryStandIn) -> None:
    sentry.malformed()
    c, _ = client(sentry)
    with pytest.raises(SentryUnavailable, match="malformed JSON"):
        c.issues(ORG, ["11"])


def test_unreachable_server() -> None:
    from doctor.sim.servers import free_port

    c = SentryClient(f"http://127.0.0.1:{free_port()}", TOKEN, timeout=2)
    with pytest.raises(SentryUnavailable, match="cannot reach Sentry"):
        c.project(ORG, PROJECT)


def test_no_message_ever_carries_the_token(sentry: SentryStandIn) -> None:
    failures: list[SentryError] = []
    for arrange in (lambda: sentry.malformed(), lambda: sentry.rate_limit(9), lambda: sentry.delay(2)):
        sentry._faults.clear()
        arrange()
        try:
            client(sentry, timeout=0.5, retries=1)[0].issues(ORG, ["11"])
        except SentryError as e:
            failures.append(e)
    assert len(failures) == 3
    assert all(TOKEN not in str(e) for e in failures)
