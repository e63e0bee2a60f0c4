"""The causal model (doctor.diagnosis.causal): which supported cause explains which, per scope, and the
root causes in rank order (synthetic reports, no servers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from doctor.config import Config
from doctor.diagnosis import diagnose, load_playbooks, root_causes
from doctor.diagnosis.causal import NOWHERE, meet
from doctor.model import CauseState, Diagnosis, Report

from support.diagnosis import OK_SIGNALS, SERVICES, C, L, P, make_report

ROOT = Path(__file__).resolve().parents[2]
SSM_PARAM = "/propertyfeedtemplate/production/REDIS_PASSWORD"


def on(queue: str) -> dict[str, Any]:
    """Evidence putting a finding on one queue's service."""
    return {"service": SERVICES[queue]}


def diagnosed(signals: list[str], evidence: dict[str, dict[str, Any]] | None = None,
              resources: dict[str, list[str]] | None = None) -> tuple[Report, Diagnosis]:
    report = make_report(signals, evidence=evidence, resources=resources)
    report.playbooks = diagnose(report, Config())
    return report, root_causes(report.playbooks, report, Config())


def shape(d: Diagnosis) -> list[tuple[str, list[str], list[tuple[str, list[str]]]]]:
    """(cause, queues, [(explained cause, queues)]) per root cause, in rank order."""
    return [(r.cause, r.scope.queues, sorted((e.cause, e.scope.queues) for e in r.explains)) for r in d.root_causes]


ALL = ["bulk", "image", "sync"]
# (name, signals, evidence by signal, resources by signal, expected root causes in rank order)
TABLE: list[tuple[str, list[str], dict[str, dict[str, Any]], dict[str, list[str]],
                  list[tuple[str, list[str], list[tuple[str, list[str]]]]]]] = [
    ("a missing referenced parameter explains the bootstrap failure and, through it, the backlog",
     ["ssm.taskdef_ref_missing", "startup.secrets_unresolvable", "queue.no_consumer", "queue.stale_reservations"],
     {"startup.secrets_unresolvable": on("bulk"), "queue.no_consumer": {"queue": "bulk"},
      "queue.stale_reservations": {"queue": "bulk"}},
     {"ssm.taskdef_ref_missing": [SSM_PARAM, f"{SERVICES['bulk']}/app/REDIS_PASSWORD"]},
     [("stale-ssm-values", ["bulk"], [("bad-bootstrap", ["bulk"]), ("workers-not-consuming", ["bulk"])])]),
    ("an image that cannot be pulled explains the restart loop and the backlog of its queue",
     ["startup.image_pull_failed", "ecs.restart_storm", "queue.no_consumer", "queue.stale_reservations",
      "queue.overdue_delayed"],
     {"startup.image_pull_failed": on("image"), "ecs.restart_storm": on("image"),
      "queue.no_consumer": {"queue": "image"}, "queue.stale_reservations": {"queue": "image"},
      "queue.overdue_delayed": {"queue": "image"}},
     {},
     [("bad-container-image", ["image"], [("bad-bootstrap", ["image"]), ("workers-not-consuming", ["image"])])]),
    ("missing runtime directories explain the bootstrap failure they cause",
     ["startup.runtime_dirs_missing", "startup.bootstrap_failed", "ecs.restart_storm"],
     {"startup.runtime_dirs_missing": on("image"), "startup.bootstrap_failed": on("image"),
      "ecs.restart_storm": on("image")},
     {},
     [("missing-runtime-dirs", ["image"], [("bad-bootstrap", ["image"])])]),
    ("bulk's bootstrap failure does not explain the image queue's backlog",
     ["startup.secrets_unresolvable", "queue.no_consumer"],
     {"startup.secrets_unresolvable": on("bulk"), "queue.no_consumer": {"queue": "image"}},
     {},
     [("bad-bootstrap", ["bulk"], []), ("workers-not-consuming", ["image"], [])]),
    ("a likely cause does not explain a confirmed consequence: both stand, the confirmed one first",
     ["net.no_path_ecr", "queue.no_consumer"],
     {"queue.no_consumer": {"queue": "image"}},
     {},
     [("workers-not-consuming", ["image"], []), ("bad-container-image", [], [])]),
    ("a platform-wide SG finding explains the path timeouts seen from every task",
     ["sg.redis_ingress_missing", "reach.redis_timeout@task", "dns.redis_ok", "dns.db_ok", "sg.aurora_ok"],
     {"sg.redis_ingress_missing": {"services": list(SERVICES.values())}},
     {},
     [("missing-redis-ingress", ALL, [("redis-path-unhealthy", ALL)])]),
    ("the path cause alone is the root cause when the SG is fine",
     ["reach.aurora_timeout@task", "dns.db_ok", "sg.aurora_ok"], {}, {},
     [("db-path-blocked", ["sync"], [])]),
    ("a stale DB_HOST explains the timeouts to the dead address and the failing jobs",
     ["dns.db_host_stale", "reach.aurora_timeout@task", "queue.failing_requeue"],
     {"queue.failing_requeue": {"queue": "image"}},
     {},
     [("bad-db-host", [], [("db-path-blocked", ["sync"]), ("jobs-failing-and-requeueing", ["image"])])]),
    ("the wrong Redis prefix explains the backlog nobody consumes",
     ["queue.key_split", "drift.redis_target_differs", "queue.no_consumer"],
     {"queue.key_split": {"queue": "image"}, "queue.no_consumer": {"queue": "image"}},
     {},
     [("wrong-redis", ["image"], [("workers-not-consuming", ["image"])])]),
    ("ranked by strength, not by file order: a confirmed cause of the last playbook before a likely one of the first",
     ["logs.db_auth", "reach.redis_timeout@task", "dns.redis_ok", "sg.redis_ok"],
     {"logs.db_auth": on("bulk")},
     {},
     [("redis-path-unhealthy", ["sync"], []), ("stale-ssm-values", ["bulk"], [])]),
]


@pytest.mark.parametrize(("name", "signals", "evidence", "resources", "expected"),
                         TABLE, ids=[row[0] for row in TABLE])
def test_root_causes_table(name: str, signals: list[str], evidence: dict[str, dict[str, Any]],
                           resources: dict[str, list[str]],
                           expected: list[tuple[str, list[str], list[tuple[str, list[str]]]]]) -> None:
    report, d = diagnosed(signals, evidence, resources)
    assert shape(d) == expected, [(p.id, c.id, c.state.value, c.score) for p in report.playbooks for c in p.causes
                                  if c.state in (C, L, P)]
    for r in d.root_causes:
        assert r.state in (C, L) and r.evidence and r.next_steps and r.title
    for a, b in zip(d.root_causes, d.root_causes[1:], strict=False):  # rank order
        assert (a.state == b.state and a.score >= b.score) or (a.state, b.state) == (C, L)


def test_partly_explained_cause_is_a_root_cause_on_the_rest_of_its_scope() -> None:
    """bulk's tasks cannot start; image has no consumer for its own reason. The backlog cause is explained on
    bulk and stands as a root cause on image, judged on image's evidence alone."""
    ev = {"startup.secrets_unresolvable": on("bulk"), "ecs.zero_running": on("image"), "queue.backlog": {"queue": "bulk"}}
    signals = ["startup.secrets_unresolvable", "ecs.zero_running", "queue.backlog"]
    report = make_report(signals, evidence=ev)
    # bulk's backlog has no consumer (confirmed on bulk); image runs no task (likely on image)
    queue_findings = report.check("queue.state").findings  # type: ignore[union-attr]
    queue_findings.append(queue_findings[0].model_copy(update={
        "uid": "queue.state:no_consumer:bulk", "signals": ["queue.no_consumer"], "evidence": {"queue": "bulk"}}))
    report.playbooks = diagnose(report, Config())
    d = root_causes(report.playbooks, report, Config())
    assert shape(d) == [("bad-bootstrap", ["bulk"], [("workers-not-consuming", ["bulk"])]),
                        ("workers-not-consuming", ["image"], [])]
    image = d.root_causes[1]
    # judged on image alone: zero running without a backlog there is likely, not confirmed
    assert image.state == L
    assert image.evidence == [f.uid for f in report.check("ecs.service").findings]  # type: ignore[union-attr]
    assert image.scope.services == [SERVICES["image"]]
    assert all(SERVICES["bulk"] not in s for s in image.next_steps), image.next_steps
    assert any(SERVICES["image"] in s for s in image.next_steps)


def test_a_chain_is_cut_where_the_scopes_stop_overlapping() -> None:
    """A explains B on bulk only; B (also on image) explains C on image: C is under B, not under A."""
    ev = {"startup.secrets_unresolvable": on("bulk"), "queue.no_consumer": {"queue": "image"}}
    report = make_report(["ssm.taskdef_ref_missing", "startup.secrets_unresolvable", "queue.no_consumer"],
                         evidence=ev, resources={"ssm.taskdef_ref_missing": [SSM_PARAM, f"{SERVICES['bulk']}/app/X"]})
    startup = report.check("ecs.startup").findings  # type: ignore[union-attr]
    startup.append(startup[0].model_copy(update={"uid": "ecs.startup:secrets_unresolvable:image",
                                                 "evidence": on("image")}))
    report.playbooks = diagnose(report, Config())
    got = {r.cause: r for r in root_causes(report.playbooks, report, Config()).root_causes}
    assert set(got) == {"stale-ssm-values", "bad-bootstrap"}
    assert [(e.cause, e.scope.queues) for e in got["stale-ssm-values"].explains] == [("bad-bootstrap", ["bulk"])]
    assert got["bad-bootstrap"].scope.queues == ["image"]
    assert [(e.cause, e.scope.queues) for e in got["bad-bootstrap"].explains] == [("workers-not-consuming", ["image"])]


def test_two_independent_faults_are_both_root_causes() -> None:
    _, d = diagnosed(["sg.redis_ingress_missing", "sg.aurora_ingress_missing"])
    assert {r.cause for r in d.root_causes} == {"missing-redis-ingress", "missing-aurora-ingress"}
    ours = {r.cause: r for r in d.root_causes}
    # each explains its own path cause only
    assert [e.cause for e in ours["missing-redis-ingress"].explains] == ["redis-path-unhealthy"]
    assert [e.cause for e in ours["missing-aurora-ingress"].explains] == ["db-path-blocked"]


@pytest.mark.parametrize("signals", [OK_SIGNALS, [], ["ecs.not_steady"], ["reach.aurora_timeout@host", "dns.db_ok"],
                                     ["logs.memory_exhausted"]],
                         ids=["healthy", "nothing", "possible-bootstrap", "possible-path", "possible-failing"])
def test_no_root_cause_without_a_confirmed_or_likely_cause(signals: list[str]) -> None:
    report, d = diagnosed(signals)
    assert d.root_causes == []
    assert all(c.state not in (C, L) for p in report.playbooks for c in p.causes)


def test_explained_causes_carry_their_own_state_and_score() -> None:
    report, d = diagnosed(["startup.image_pull_failed", "ecs.restart_storm"],
                          {"startup.image_pull_failed": on("image"), "ecs.restart_storm": on("image")})
    [root] = d.root_causes
    [e] = root.explains
    bootstrap = next(c for p in report.playbooks for c in p.causes if c.id == "bad-bootstrap")
    assert (e.playbook, e.cause, e.title, e.state, e.score) == (
        "no-steady-state", "bad-bootstrap", bootstrap.title, CauseState.likely, bootstrap.score)
    assert root.evidence == ["ecs.startup:image_pull_failed:x0"]


def test_saved_schema_1_report_gets_its_root_causes() -> None:
    """A report saved before schema 2 has playbooks but no diagnosis: the root causes come from its results."""
    report, d = diagnosed(["sg.aurora_ingress_missing", "reach.aurora_timeout@task", "dns.db_ok"])
    old = Report.model_validate({**report.model_dump(mode="json", by_alias=True), "schema_version": 1,
                                 "diagnosis": {"root_causes": []}})
    assert root_causes(old.playbooks, old, Config()) == d
    assert shape(d) == [("missing-aurora-ingress", ["sync"], [("db-path-blocked", ["sync"])])]


def test_a_cause_the_playbooks_no_longer_have_still_ranks() -> None:
    report, _ = diagnosed(["sg.redis_ingress_missing", "reach.redis_timeout@task", "dns.redis_ok"])
    renamed = next(c for c in report.playbooks[0].causes if c.id == "missing-redis-ingress")
    renamed.id = "renamed-cause"  # since the report was saved: no relation names it any more
    d = root_causes(report.playbooks, report, Config())
    assert [r.cause for r in d.root_causes] == ["renamed-cause", "redis-path-unhealthy"]


def test_without_readable_playbooks_every_strong_cause_is_a_root_cause(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    report, _ = diagnosed(["sg.redis_ingress_missing", "reach.redis_timeout@task", "dns.redis_ok"])
    (tmp_path / "broken.md").write_text("no front matter\n")
    monkeypatch.setenv("AME_DOCTOR_PLAYBOOKS", str(tmp_path))
    d = root_causes(report.playbooks, report, Config())
    assert [r.cause for r in d.root_causes] == ["missing-redis-ingress", "redis-path-unhealthy"]
    assert all(not r.explains for r in d.root_causes)


def test_explicit_playbooks_are_used_as_given() -> None:
    report, d = diagnosed(["startup.image_pull_failed", "ecs.restart_storm"],
                          {"startup.image_pull_failed": on("image"), "ecs.restart_storm": on("image")})
    books = load_playbooks()
    for b in books:
        for c in b.causes:
            c.explains, c.yields_to = [], []
    unrelated = root_causes(report.playbooks, report, Config(), books)
    assert [r.cause for r in unrelated.root_causes] == ["bad-container-image", "bad-bootstrap"]
    assert root_causes(report.playbooks, report, Config(), load_playbooks()) == d


@pytest.mark.parametrize(("a", "b", "expected"), [
    (None, None, None), (None, frozenset({"bulk"}), frozenset({"bulk"})), (frozenset({"bulk"}), None, frozenset({"bulk"})),
    (frozenset({"bulk", "image"}), frozenset({"image", "sync"}), frozenset({"image"})),
    (frozenset({"bulk"}), frozenset({"image"}), NOWHERE),
])
def test_meet(a: frozenset[str] | None, b: frozenset[str] | None, expected: frozenset[str] | None) -> None:
    assert meet(a, b) == expected


def test_a_consequence_reached_two_ways_is_explained_where_either_holds() -> None:
    """A explains B (on bulk) and C (on image); B and C each explain D: D is under A on bulk and image."""
    books = load_playbooks()
    ssm = next(c for b in books for c in b.causes if c.id == "stale-ssm-values")
    ssm.explains = ["bad-bootstrap", "bad-container-image"]  # an edited copy: a parameter the pull needs, say
    ev = {"startup.secrets_unresolvable": on("bulk"), "startup.image_pull_failed": on("image"),
          "queue.no_consumer": {"queue": "bulk"}}
    report = make_report(["ssm.taskdef_ref_missing", "startup.secrets_unresolvable", "startup.image_pull_failed",
                          "queue.no_consumer"], evidence=ev, resources={"ssm.taskdef_ref_missing": [
                              SSM_PARAM, f"{SERVICES['bulk']}/app/X", f"{SERVICES['image']}/app/X"]})
    queue_findings = report.check("queue.state").findings  # type: ignore[union-attr]
    queue_findings.append(queue_findings[0].model_copy(update={"uid": "queue.state:no_consumer:image",
                                                               "evidence": {"queue": "image"}}))
    report.playbooks = diagnose(report, Config())
    d = root_causes(report.playbooks, report, Config(), books)
    assert shape(d) == [("stale-ssm-values", ["bulk", "image"], [
        ("bad-bootstrap", ["bulk"]), ("bad-container-image", ["image"]), ("workers-not-consuming", ["bulk", "image"])])]
