"""The diagnosis (doctor.diagnosis.ranking): causes ranked within a playbook, verdicts, a broken playbook
directory as a verdict, and the diagnosis in the report, the engine and the text renderer."""

from __future__ import annotations

from typing import Any

import pytest

from doctor.config import Config
from doctor.diagnosis import diagnose
from doctor.model import CauseState, Report

from support.diagnosis import SG_EVIDENCE, C, L, R, book, cause, make_report, run


def test_ranking_within_a_playbook() -> None:
    books = run(["sg.redis_ingress_missing", "drift.value_differs", "dns.db_ok", "sg.aurora_ok"])
    jobs = book(books, "jobs-fail-immediately")
    assert [c.id for c in jobs.causes][:2] == ["missing-redis-ingress", "stale-ssm-values"]
    assert [c.state for c in jobs.causes] == [C, L, R, R]
    assert jobs.causes[0].score > jobs.causes[1].score
    assert "missing-redis-ingress" in jobs.verdict and "also stale-ssm-values" in jobs.verdict


def test_diagnosis_survives_a_broken_playbook_dir(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "jobs-fail-immediately.md").write_text("no front matter\n")
    monkeypatch.setenv("AME_DOCTOR_PLAYBOOKS", str(tmp_path))
    books = run(["dns.db_ok"])
    assert len(books) == 1 and books[0].verdict.startswith("error: ")
    assert "jobs-fail-immediately.md" in books[0].verdict


def test_report_json_carries_the_diagnosis() -> None:
    r = make_report(["sg.redis_ingress_missing"], evidence=SG_EVIDENCE)
    r.playbooks = diagnose(r, Config())
    again = Report.model_validate_json(r.to_json())
    c = cause(again.playbooks, "missing-redis-ingress")
    assert c.state == CauseState.confirmed and c.evidence and c.next_steps and c.reason
    assert again.playbooks[0].verdict
    assert [p.id for p in again.playbooks] == ["jobs-fail-immediately", "no-steady-state",
                                               "queue-not-draining", "timeout-symptoms"]


def test_engine_fills_playbooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's report carries the diagnosis (a check emitting one signal, no AWS)."""
    import asyncio

    from doctor.checkapi import CheckMeta, FindingKind
    from doctor.engine import Engine, EngineOptions
    from doctor.registry import RegisteredCheck

    kind = FindingKind(signal="queue.no_consumer", severity="error", title="no consumer", why="w", fix="r")
    meta = CheckMeta(id="queue.state", title="q", order=10, proves="p", why="w", remediation="r",
                     kinds={"no_consumer": kind})

    def fake(ctx: Any) -> Any:
        yield ctx.finding("no_consumer", "bulk")

    report = asyncio.run(Engine(Config(), [RegisteredCheck(meta, fake, "test")], EngineOptions()).run())
    c = cause(report.playbooks, "workers-not-consuming")
    assert c.state == CauseState.confirmed and c.evidence == ["queue.state:no_consumer:bulk"]
    assert cause(report.playbooks, "bad-db-host").state == CauseState.unknown  # its checks did not run
    [root] = report.diagnosis.root_causes
    assert (root.playbook, root.cause, root.state, root.evidence) == (
        "queue-not-draining", "workers-not-consuming", CauseState.confirmed, ["queue.state:no_consumer:bulk"])
    assert Report.model_validate_json(report.to_json()).diagnosis == report.diagnosis


def test_text_report_shows_top_causes_evidence_steps_and_verdicts() -> None:
    from doctor.render.text import render

    r = make_report(["sg.redis_ingress_missing", "dns.db_ok", "dns.redis_ok"], evidence=SG_EVIDENCE)
    r.playbooks = diagnose(r, Config())
    out = render(r)
    diag = out.split("Diagnosis", 1)[1].split("Checks", 1)[0]
    first = diag.strip().splitlines()[0]
    assert "CONFIRMED" in first and "missing-redis-ingress" in first
    assert "evidence: sg.ingress:redis_ingress_missing:x0" in diag
    assert "$ aws ec2 authorize-security-group-ingress --group-id sg-0redis" in diag
    assert "jobs-fail-immediately: Confirmed: " in out and "timeout-symptoms: " in out
