"""ame-doctor diff: root causes first (appeared / resolved / changed), then findings appeared / resolved /
persisted by uid, status and verdict changes; exit 1 when worse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from doctor.diff import diff_reports, render_text, root_cause_line
from doctor.model import CauseState

from support.render import cause, check, explained, finding, playbook, report, root_cause

IMAGE = ("propertyfeedtemplate-image",)
REDIS_ROOT = root_cause("jobs-fail-immediately", "missing-redis-ingress", "confirmed", 0.95, services=IMAGE,
                        title="The Redis SG does not admit the worker SG", evidence=["sg.ingress:missing:sg-r"],
                        explains=[explained("queue-not-draining", "workers-not-consuming", queues=("image",),
                                            title="No worker is consuming the queue")])
SSM_ROOT = root_cause("jobs-fail-immediately", "stale-ssm-values", "confirmed", 0.9, services=IMAGE,
                      title="Tasks run with stale SSM values")


def _old():  # type: ignore[no-untyped-def]
    return report([
        check("ssm.values", "pass", [finding("ssm.values:ok:/p/", "info", "values ok")], order=1),
        check("sg.ingress", "fail", [finding("sg.ingress:missing:sg-r", "critical", "redis SG closed")], order=2),
        check("dns.resolve", "warn", [finding("dns.resolve:ttl:db", "warning", "long TTL")], order=3),
    ], [playbook("jobs-fail-immediately", "missing-redis-ingress (confirmed)",
                 [cause("missing-redis-ingress", "confirmed", ["sg.ingress:missing:sg-r"]),
                  cause("bad-db-host", "ruled-out")])], run_id="old000000000", root_causes=[REDIS_ROOT])


def _fixed():  # type: ignore[no-untyped-def]
    return report([
        check("ssm.values", "pass", [finding("ssm.values:ok:/p/", "info", "values ok")], order=1),
        check("sg.ingress", "pass", [finding("sg.ingress:ok:sg-r", "info", "redis SG admits workers")], order=2),
        check("dns.resolve", "warn", [finding("dns.resolve:ttl:db", "warning", "long TTL")], order=3),
    ], [playbook("jobs-fail-immediately", "no cause confirmed",
                 [cause("missing-redis-ingress", "ruled-out"), cause("bad-db-host", "ruled-out")])],
        run_id="new000000000")


def _broken():  # type: ignore[no-untyped-def]
    return report([
        check("ssm.values", "fail", [finding("ssm.values:ok:/p/", "info", "values ok"),
                                     finding("ssm.values:stale:DB_HOST", "error", "DB_HOST changed after tasks started")],
              order=1),
        check("sg.ingress", "fail", [finding("sg.ingress:missing:sg-r", "critical", "redis SG closed")], order=2),
        check("dns.resolve", "fail", [finding("dns.resolve:ttl:db", "error", "long TTL")], order=3),
    ], [playbook("jobs-fail-immediately", "stale-ssm-values (confirmed)",
                 [cause("missing-redis-ingress", "confirmed"), cause("bad-db-host", "ruled-out"),
                  cause("stale-ssm-values", "confirmed")])], run_id="new111111111",
        root_causes=[SSM_ROOT, REDIS_ROOT])


def test_a_fix_resolves_and_is_not_worse() -> None:
    d = diff_reports(_old(), _fixed())
    assert [f.uid for f in d.resolved] == ["sg.ingress:missing:sg-r"]
    assert [f.uid for f in d.appeared] == ["sg.ingress:ok:sg-r"]
    assert sorted(f.uid for f in d.persisted) == ["dns.resolve:ttl:db", "ssm.values:ok:/p/"]
    assert [(c.id, c.old, c.new, c.worse) for c in d.checks] == [("sg.ingress", "fail", "pass", False)]
    assert [(v.playbook, v.old, v.new) for v in d.verdicts] == [
        ("jobs-fail-immediately", "missing-redis-ingress (confirmed)", "no cause confirmed")]
    assert [(c.cause, c.old, c.new) for c in d.causes] == [("missing-redis-ingress", "confirmed", "ruled-out")]
    assert not d.worse
    assert "NOT WORSE" in render_text(d)


def test_regressions_are_worse_with_reasons() -> None:
    d = diff_reports(_old(), _broken())
    assert [f.uid for f in d.appeared] == ["ssm.values:stale:DB_HOST"]
    rose = next(f for f in d.persisted if f.uid == "dns.resolve:ttl:db")
    assert (rose.old_severity, rose.severity) == ("warning", "error")
    assert [(c.id, c.worse) for c in d.checks] == [("ssm.values", True), ("dns.resolve", True)]
    assert ("stale-ssm-values", None, "confirmed", True) in [(c.cause, c.old, c.new, c.worse) for c in d.causes]
    assert d.worse
    text = "\n".join(d.worse_reasons)
    for needle in ("new error finding ssm.values:stale:DB_HOST", "dns.resolve:ttl:db rose from warning to error",
                   "check ssm.values went from pass to fail", "cause jobs-fail-immediately/stale-ssm-values"):
        assert needle in text


def test_identical_reports() -> None:
    d = diff_reports(_old(), _old())
    assert not d.appeared and not d.resolved and not d.checks and not d.verdicts and not d.causes
    assert len(d.persisted) == 3 and not d.worse
    assert [(c.change, c.cause) for c in d.root_causes] == [("unchanged", "missing-redis-ingress")]
    assert render_text(d).splitlines()[0] == ("root cause unchanged: The Redis SG does not admit the worker SG "
                                              "(confirmed, score 0.95) on service propertyfeedtemplate-image")


def test_a_resolved_root_cause_is_the_first_line() -> None:
    d = diff_reports(_old(), _fixed())
    lines = render_text(d).splitlines()
    assert lines[0] == ("root cause resolved: The Redis SG does not admit the worker SG (was confirmed, score 0.95) "
                        "on service propertyfeedtemplate-image")
    assert lines[1] == "" and lines[2].startswith("ame-doctor diff: run old000000000 (failing)")
    assert not d.worse


def test_an_appeared_root_cause_is_the_first_line_and_worse() -> None:
    d = diff_reports(_fixed(), _broken())
    assert [(c.change, c.cause) for c in d.root_causes] == [
        ("appeared", "stale-ssm-values"), ("appeared", "missing-redis-ingress")]  # rank order
    lines = render_text(d).splitlines()
    assert lines[0] == ("root cause appeared: Tasks run with stale SSM values (confirmed, score 0.90) on service "
                        "propertyfeedtemplate-image")
    assert lines[1] == ("root cause appeared: The Redis SG does not admit the worker SG (confirmed, score 0.95) on "
                        "service propertyfeedtemplate-image — explains: No worker is consuming the queue on queue image")
    assert d.worse and "root cause jobs-fail-immediately/stale-ssm-values appeared" in d.worse_reasons
    # against the old run the Redis root cause persists: only the new one appeared
    d = diff_reports(_old(), _broken())
    assert [(c.change, c.cause) for c in d.root_causes] == [
        ("appeared", "stale-ssm-values"), ("unchanged", "missing-redis-ingress")]


def _with_roots(*roots):  # type: ignore[no-untyped-def]
    return report([check("sg.ingress", "fail", [finding("sg.ingress:missing:sg-r", "critical", "closed")])],
                  root_causes=list(roots))


def test_state_score_and_scope_changes_follow_appearances() -> None:
    likely = REDIS_ROOT.model_copy(update={"state": CauseState.likely, "score": 0.66})
    d = diff_reports(_with_roots(likely), _with_roots(REDIS_ROOT))
    [c] = d.root_causes
    assert (c.change, c.old_state, c.new_state, c.worse) == ("changed", "likely", "confirmed", True)
    assert root_cause_line(c) == (
        "root cause changed: The Redis SG does not admit the worker SG (confirmed, score 0.95) on service "
        "propertyfeedtemplate-image (was likely, score 0.66) — explains: No worker is consuming the queue on queue "
        "image  (worse)")
    assert diff_reports(_with_roots(REDIS_ROOT), _with_roots(likely)).root_causes[0].worse is False  # weaker
    rescored = REDIS_ROOT.model_copy(update={"score": 0.97})
    c = diff_reports(_with_roots(REDIS_ROOT), _with_roots(rescored)).root_causes[0]
    assert (c.change, c.worse) == ("changed", False)  # a score move alone is news, not worse
    assert diff_reports(_with_roots(REDIS_ROOT), _with_roots(REDIS_ROOT.model_copy(update={"score": 0.951}))
                        ).root_causes[0].change == "unchanged"  # below what the report shows
    wider = REDIS_ROOT.model_copy(update={"scope": REDIS_ROOT.scope.model_copy(
        update={"services": [*IMAGE, "propertyfeedtemplate-bulk"]})})
    d = diff_reports(_with_roots(REDIS_ROOT), _with_roots(SSM_ROOT, wider))
    assert [(c.change, c.cause, c.worse) for c in d.root_causes] == [
        ("appeared", "stale-ssm-values", True), ("changed", "missing-redis-ingress", True)]
    assert "(was on service propertyfeedtemplate-image)" in root_cause_line(d.root_causes[1])


def test_the_same_cause_on_two_scopes_is_matched_by_scope() -> None:
    bulk = REDIS_ROOT.model_copy(update={"scope": REDIS_ROOT.scope.model_copy(
        update={"services": ["propertyfeedtemplate-bulk"]})})
    d = diff_reports(_with_roots(bulk, REDIS_ROOT), _with_roots(REDIS_ROOT))
    assert [(c.change, c.old_scope, c.new_scope) for c in d.root_causes] == [
        ("resolved", {"services": ["propertyfeedtemplate-bulk"], "queues": []}, None),
        ("unchanged", {"services": list(IMAGE), "queues": []}, {"services": list(IMAGE), "queues": []})]
    assert not d.worse


def test_info_only_appearance_is_not_worse() -> None:
    new = _old()
    new.checks[0].findings.append(finding("ssm.values:note:x", "info", "a note"))
    assert not diff_reports(_old(), new).worse


@pytest.fixture
def saved(tmp_path: Path):  # type: ignore[no-untyped-def]
    def write(name: str, rep) -> str:  # type: ignore[no-untyped-def]
        p = tmp_path / name
        p.write_text(rep.to_json(), encoding="utf-8")
        return str(p)

    return write


def test_cli_text_and_exit_codes(cli, saved) -> None:  # type: ignore[no-untyped-def]
    old, fixed, broken = saved("old.json", _old()), saved("fixed.json", _fixed()), saved("broken.json", _broken())
    better = cli("diff", old, fixed)
    assert better.returncode == 0, better.stderr
    assert better.stdout.startswith("root cause resolved: The Redis SG does not admit the worker SG")
    assert "Resolved (1)" in better.stdout and "- [critical] redis SG closed  (sg.ingress:missing:sg-r)" in better.stdout
    worse = cli("diff", old, broken, "--format", "json")
    assert worse.returncode == 1, worse.stderr
    data = json.loads(worse.stdout)
    assert data["worse"] is True and data["appeared"][0]["uid"] == "ssm.values:stale:DB_HOST"
    assert [(c["change"], c["cause"], c["new_state"]) for c in data["root_causes"]] == [
        ("appeared", "stale-ssm-values", "confirmed"), ("unchanged", "missing-redis-ingress", "confirmed")]
    assert data["root_causes"][0]["new_scope"] == {"services": ["propertyfeedtemplate-image"], "queues": []}
    first = cli("diff", fixed, broken).stdout.splitlines()[0]
    assert first.startswith("root cause appeared: Tasks run with stale SSM values")
    assert {c["id"] for c in data["checks"]} == {"ssm.values", "dns.resolve"}


@pytest.mark.parametrize("content", ["not json at all", '{"hello": 1}', '{"schema_version": 1, "tool": 3}', None])
def test_cli_bad_file_is_one_line_exit_2(cli, saved, tmp_path: Path, content: str | None) -> None:  # type: ignore[no-untyped-def]
    good = saved("old.json", _old())
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content, encoding="utf-8")
    res = cli("diff", good, str(bad))
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "bad.json" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_before_and_after_a_fault_in_one_world(redis_clean, mariadb, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """A real before/after pair: the same simulated production, healthy then with a second Redis prefix."""
    import asyncio

    from doctor.config import Config
    from doctor.engine import Engine
    from doctor.registry import all_checks
    from doctor.sim.scenarios import SCENARIOS, start, wrong_redis

    platform = start(SCENARIOS["healthy"], workdir=tmp_path, redis=redis_clean, db=mariadb)
    try:
        before = asyncio.run(Engine(Config.model_validate(platform.config()), all_checks()).run())
        wrong_redis(platform)
        after = asyncio.run(Engine(Config.model_validate(platform.config()), all_checks()).run())
    finally:
        platform.stop()
    d = diff_reports(before, after)
    assert d.worse, render_text(d)
    assert any(f.uid.startswith("queue.state:") and "key_split" in f.uid for f in d.appeared), render_text(d)
    assert ("wrong-redis", "confirmed") in [(c.cause, c.new) for c in d.causes], render_text(d)
    assert not d.resolved or all(f.severity == "info" for f in d.resolved), render_text(d)
    (tmp_path / "before.json").write_text(before.to_json(), encoding="utf-8")
    (tmp_path / "after.json").write_text(after.to_json(), encoding="utf-8")
    assert cli("diff", str(tmp_path / "before.json"), str(tmp_path / "after.json")).returncode == 1
    assert cli("diff", str(tmp_path / "after.json"), str(tmp_path / "before.json")).returncode == 0
