"""The diagnosis over synthetic reports: signal sets -> cause states and ranking (fast, no servers)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from doctor.config import Config
from doctor.diagnosis import (
    KNOWN_CHECKS,
    PlaybookError,
    checks_for_playbook,
    diagnose,
    fill,
    top_causes,
)
from doctor.model import (
    CauseState,
    CheckResult,
    CheckStatus,
    Finding,
    PlaybookResult,
    QueueTarget,
    Report,
    RunInfo,
    Severity,
    Target,
    ToolInfo,
)

CHECK_OF = {  # signal prefix -> the check that emits it
    "ssm": "ssm.values", "sg": "sg.ingress", "dns": "dns.resolve", "s3": "s3.access", "startup": "ecs.startup",
    "logs": "ecs.startup", "drift": "env.drift", "ecs": "ecs.service", "queue": "queue.state",
    "net": "net.egress", "exec": "exec.ready", "probe": "reach.redis",
}
CLUSTER = "propertyfeedtemplate-production"
SERVICES = {"sync": "propertyfeedtemplate-sync", "image": "propertyfeedtemplate-image",
            "bulk": "propertyfeedtemplate-bulk"}
OK_SIGNALS = ["ssm.ok", "sg.redis_ok", "sg.aurora_ok", "dns.db_ok", "dns.redis_ok", "reach.redis_ok@task",
              "reach.redis_ok@host", "reach.aurora_ok@task", "reach.aurora_ok@host", "s3.ok", "startup.ok",
              "drift.ok", "ecs.steady", "queue.draining"]


def check_of(signal: str) -> str:
    ns, _, rest = signal.partition(".")
    if ns == "reach":
        return "reach.redis" if rest.startswith("redis") else "reach.aurora"
    return CHECK_OF[ns]


def make_report(signals: list[str], statuses: dict[str, str] | None = None, *,
                evidence: dict[str, dict[str, Any]] | None = None,
                resources: dict[str, list[str]] | None = None) -> Report:
    """One finding per signal (``sig`` or ``sig@task`` / ``sig@host``; ``@task`` is task:<sync service>).

    Every contract check is present with status pass (warn/fail if a finding says so) unless
    ``statuses`` says otherwise ('missing' drops the check from the report)."""
    statuses = statuses or {}
    evidence = evidence or {}
    resources = resources or {}
    by_check: dict[str, list[Finding]] = {c: [] for c in KNOWN_CHECKS}
    for n, spec in enumerate(signals):
        sig, _, vantage = spec.partition("@")
        ok = sig.endswith("_ok") or sig in ("ecs.steady", "queue.draining", "startup.ok", "drift.ok", "s3.ok", "ssm.ok")
        ev: dict[str, Any] = dict(evidence.get(spec, {}))
        if vantage:
            ev.setdefault("vantage", "host" if vantage == "host" else f"task:{SERVICES['sync']}")
        cid = check_of(sig)
        by_check[cid].append(Finding(
            uid=f"{cid}:{sig.split('.', 1)[1]}:{vantage or 'x'}{n}",
            severity=Severity.info if ok else Severity.error, title=spec, evidence=ev,
            resources=resources.get(spec, []), signals=[sig]))
    checks = []
    for order, cid in enumerate(KNOWN_CHECKS, 1):
        st = statuses.get(cid)
        if st == "missing":
            continue
        findings = by_check[cid]
        status = CheckStatus(st) if st else (
            CheckStatus.fail if any(f.severity.rank >= Severity.error.rank for f in findings) else CheckStatus.passed)
        checks.append(CheckResult(id=cid, title=cid, order=order, status=status, findings=findings))
    return Report(tool=ToolInfo(version="test"), run=RunInfo(id="r", started_at="2026-01-01T00:00:00+00:00"),
                  target=Target(cluster=CLUSTER, region="eu-west-1", account="123456789012",
                                queues={q: QueueTarget(service=s) for q, s in SERVICES.items()}),
                  checks=checks)


def run(signals: list[str], statuses: dict[str, str] | None = None, **kw: Any) -> list[PlaybookResult]:
    return diagnose(make_report(signals, statuses, **kw), Config())


def cause(books: list[PlaybookResult], cause_id: str) -> Any:
    for b in books:
        for c in b.causes:
            if c.id == cause_id:
                return c
    raise AssertionError(f"no cause {cause_id}")


def book(books: list[PlaybookResult], playbook_id: str) -> PlaybookResult:
    return next(b for b in books if b.id == playbook_id)


C, L, P, R, U = (CauseState.confirmed, CauseState.likely, CauseState.possible, CauseState.ruled_out,
                 CauseState.unknown)

# (cause, signals, check statuses, expected state)
TABLE: list[tuple[str, list[str], dict[str, str], CauseState]] = [
    # bad-db-host
    ("bad-db-host", ["dns.db_host_stale"], {}, C),
    ("bad-db-host", ["dns.db_host_nxdomain"], {}, C),
    ("bad-db-host", ["dns.db_host_not_writer"], {}, C),
    ("bad-db-host", ["reach.aurora_reader@task"], {}, C),
    ("bad-db-host", ["reach.aurora_dns_failed@task"], {}, C),
    ("bad-db-host", ["reach.aurora_dns_failed@host"], {}, L),
    ("bad-db-host", ["drift.db_host_differs"], {}, L),
    ("bad-db-host", ["logs.db_readonly"], {}, L),
    ("bad-db-host", ["reach.aurora_refused@task"], {}, P),
    ("bad-db-host", ["dns.db_ok"], {}, R),
    ("bad-db-host", ["dns.db_host_not_writer", "dns.db_ok"], {}, L),           # conflicting: one tier down
    ("bad-db-host", ["logs.db_readonly", "dns.db_ok"], {}, P),
    ("bad-db-host", ["reach.aurora_timeout@task", "dns.db_ok"], {}, R),        # DNS fine + timeout: not DNS
    ("bad-db-host", [], {"dns.resolve": "unknown", "reach.aurora": "unknown"}, U),
    ("bad-db-host", [], {"dns.resolve": "unknown"}, U),                        # partial: never ruled out
    ("bad-db-host", [], {"reach.aurora": "missing"}, U),                       # a check not run
    ("bad-db-host", [], {}, R),                                                # all ran, none showed it
    # missing-aurora-ingress
    ("missing-aurora-ingress", ["sg.aurora_ingress_missing"], {}, C),
    ("missing-aurora-ingress", ["reach.aurora_timeout@task", "dns.db_ok"], {}, L),
    ("missing-aurora-ingress", ["reach.aurora_timeout@host", "dns.db_ok"], {}, P),
    ("missing-aurora-ingress", ["sg.aurora_ok"], {}, R),
    ("missing-aurora-ingress", ["reach.aurora_ok@task"], {"sg.ingress": "unknown"}, R),
    ("missing-aurora-ingress", ["reach.aurora_ok@host"], {"sg.ingress": "unknown"}, U),  # host proves nothing
    ("missing-aurora-ingress", ["reach.aurora_timeout@task", "dns.db_ok", "sg.aurora_ok"], {}, P),
    ("missing-aurora-ingress", [], {"sg.ingress": "error"}, U),
    # missing-redis-ingress
    ("missing-redis-ingress", ["sg.redis_ingress_missing"], {}, C),
    ("missing-redis-ingress", ["sg.redis_ingress_missing", "sg.old_ip_rules_only"], {}, C),
    ("missing-redis-ingress", ["reach.redis_timeout@task", "dns.redis_ok"], {}, L),
    ("missing-redis-ingress", ["reach.redis_timeout@task"], {"dns.resolve": "unknown"}, U),
    ("missing-redis-ingress", ["sg.redis_ok"], {"reach.redis": "unknown"}, R),
    ("missing-redis-ingress", ["sg.redis_ingress_missing", "reach.redis_ok@task"], {}, L),
    ("missing-redis-ingress", [], {"sg.ingress": "skipped"}, U),
    # stale-ssm-values
    ("stale-ssm-values", ["ssm.newer_than_tasks"], {}, C),
    ("stale-ssm-values", ["ssm.taskdef_ref_missing"], {}, C),
    ("stale-ssm-values", ["ssm.param_missing"], {}, C),
    ("stale-ssm-values", ["reach.aurora_auth_failed@task"], {}, L),
    ("stale-ssm-values", ["logs.db_auth"], {}, L),
    ("stale-ssm-values", ["reach.redis_auth_failed@host"], {}, P),
    ("stale-ssm-values", ["ssm.ok"], {}, R),
    ("stale-ssm-values", ["logs.db_auth", "ssm.ok"], {}, P),
    ("stale-ssm-values", [], {"ssm.values": "unknown"}, U),
    # bad-container-image
    ("bad-container-image", ["startup.image_pull_failed"], {}, C),
    ("bad-container-image", ["net.no_path_ecr"], {}, L),
    ("bad-container-image", ["ecs.circuit_breaker_tripped"], {}, P),
    ("bad-container-image", ["startup.ok"], {"net.egress": "unknown"}, R),
    ("bad-container-image", ["net.no_path_ecr", "startup.ok"], {}, P),
    ("bad-container-image", [], {"ecs.startup": "unknown"}, U),
    # missing-runtime-dirs
    ("missing-runtime-dirs", ["startup.runtime_dirs_missing"], {}, C),
    ("missing-runtime-dirs", ["probe.runtime_dir_unwritable@task"], {}, C),
    ("missing-runtime-dirs", ["startup.ok"], {}, R),
    ("missing-runtime-dirs", [], {"ecs.startup": "unknown"}, U),
    # bad-bootstrap
    ("bad-bootstrap", ["startup.secrets_unresolvable"], {}, C),
    ("bad-bootstrap", ["startup.app_key_missing"], {}, C),
    ("bad-bootstrap", ["startup.oom"], {}, C),
    ("bad-bootstrap", ["ecs.restart_storm"], {}, L),
    ("bad-bootstrap", ["ecs.not_steady"], {}, P),
    ("bad-bootstrap", ["startup.ok", "ecs.steady"], {}, R),
    ("bad-bootstrap", ["startup.ok"], {"ecs.service": "unknown"}, U),           # half the rule-out
    ("bad-bootstrap", ["ecs.restart_storm", "startup.ok", "ecs.steady"], {}, P),
    # workers-not-consuming
    ("workers-not-consuming", ["queue.no_consumer"], {}, C),
    ("workers-not-consuming", ["queue.stale_reservations"], {}, C),
    ("workers-not-consuming", ["queue.sync_connection_trap"], {}, C),
    ("workers-not-consuming", ["ecs.zero_running", "queue.backlog"], {}, C),
    ("workers-not-consuming", ["ecs.zero_running"], {}, L),
    ("workers-not-consuming", ["queue.overdue_delayed"], {}, L),
    ("workers-not-consuming", ["queue.backlog_growing"], {}, P),
    ("workers-not-consuming", ["queue.draining"], {}, R),
    ("workers-not-consuming", ["queue.stale_reservations", "queue.draining"], {}, L),
    ("workers-not-consuming", [], {"queue.state": "unknown"}, U),
    # jobs-failing-and-requeueing
    ("jobs-failing-and-requeueing", ["queue.failing_requeue"], {}, C),
    ("jobs-failing-and-requeueing", ["queue.attempts_exhausted"], {}, C),
    ("jobs-failing-and-requeueing", ["logs.max_attempts"], {}, L),
    ("jobs-failing-and-requeueing", ["queue.timeout_ge_retry_after"], {}, L),
    ("jobs-failing-and-requeueing", ["logs.memory_exhausted"], {}, P),
    ("jobs-failing-and-requeueing", [], {}, R),
    ("jobs-failing-and-requeueing", [], {"queue.state": "error"}, U),
    # wrong-redis
    ("wrong-redis", ["queue.key_split"], {}, C),
    ("wrong-redis", ["drift.redis_target_differs"], {}, C),
    ("wrong-redis", ["dns.redis_host_stale"], {}, L),
    ("wrong-redis", ["reach.redis_readonly@task"], {}, P),
    ("wrong-redis", ["drift.ok", "dns.redis_ok"], {}, R),
    ("wrong-redis", ["dns.redis_ok"], {"env.drift": "unknown"}, U),              # no .env given
    ("wrong-redis", ["queue.key_split", "drift.ok", "dns.redis_ok"], {}, L),
    # db-path-blocked
    ("db-path-blocked", ["reach.aurora_timeout@task", "dns.db_ok"], {}, C),
    ("db-path-blocked", ["reach.aurora_timeout@task"], {"dns.resolve": "unknown"}, L),
    ("db-path-blocked", ["sg.aurora_ingress_missing"], {}, P),     # explained by missing-aurora-ingress
    ("db-path-blocked", ["sg.aurora_ingress_missing"], {"sg.ingress": "fail", "reach.aurora": "unknown"}, P),
    ("db-path-blocked", ["logs.db_timeout"], {}, L),
    ("db-path-blocked", ["reach.aurora_timeout@host", "dns.db_ok"], {}, P),
    ("db-path-blocked", ["reach.aurora_ok@task"], {}, R),
    ("db-path-blocked", ["reach.aurora_ok@host"], {"reach.aurora": "unknown"}, U),  # no exec: host only
    ("db-path-blocked", ["reach.aurora_timeout@task", "dns.db_ok", "reach.aurora_ok@task"], {}, L),
    # redis-path-unhealthy
    ("redis-path-unhealthy", ["reach.redis_timeout@task", "dns.redis_ok"], {}, C),
    ("redis-path-unhealthy", ["reach.redis_timeout@task"], {}, L),
    ("redis-path-unhealthy", ["sg.redis_ingress_missing"], {}, P),   # explained by missing-redis-ingress
    ("redis-path-unhealthy", ["logs.redis_timeout"], {}, L),
    ("redis-path-unhealthy", ["reach.redis_timeout@host", "dns.redis_ok"], {}, P),
    ("redis-path-unhealthy", ["reach.redis_ok@task"], {}, R),
    ("redis-path-unhealthy", [], {"reach.redis": "unknown"}, U),
]


@pytest.mark.parametrize(("cause_id", "signals", "statuses", "expected"), TABLE,
                         ids=[f"{c}-{'+'.join(s) or 'none'}-{','.join(f'{k}={v}' for k, v in st.items())}"
                              for c, s, st, _ in TABLE])
def test_cause_state_table(cause_id: str, signals: list[str], statuses: dict[str, str],
                           expected: CauseState) -> None:
    c = cause(run(signals, statuses), cause_id)
    assert c.state == expected, (c.state, c.reason)
    assert c.reason
    if expected in (C, L, P):
        assert c.evidence, "a supported cause names its supporting finding uids"
        assert c.score > 0 and c.next_steps
    else:
        assert c.score == 0 and not c.evidence and not c.next_steps


def test_every_contract_cause_is_in_the_table() -> None:
    causes = {c.id for b in run([]) for c in b.causes}
    assert causes == {row[0] for row in TABLE}
    for cid in causes:
        states = {row[3] for row in TABLE if row[0] == cid}
        assert R in states and U in states and states & {C, L}, cid


def test_unknown_is_never_ruled_out_when_nothing_could_run() -> None:
    books = run([], {c: "unknown" for c in KNOWN_CHECKS})
    assert all(c.state == CauseState.unknown for b in books for c in b.causes)
    assert all("Nothing conclusive" in b.verdict and "could not be decided" in b.verdict for b in books)


def test_unknown_names_the_checks_that_did_not_run() -> None:
    c = cause(run([], {"reach.aurora": "unknown", "dns.resolve": "missing"}), "db-path-blocked")
    assert c.state == CauseState.unknown
    assert "reach.aurora unknown" in c.reason and "dns.resolve not run" in c.reason


def test_vantage_combination_path_blocked_not_dns() -> None:
    books = run(["dns.db_ok", "dns.redis_ok", "reach.aurora_timeout@task", "reach.aurora_ok@host", "sg.aurora_ok"])
    assert cause(books, "db-path-blocked").state == CauseState.confirmed
    assert cause(books, "bad-db-host").state == CauseState.ruled_out
    timeout = book(books, "timeout-symptoms")
    assert timeout.causes[0].id == "db-path-blocked"
    assert timeout.verdict.startswith("Confirmed:") and "db-path-blocked" in timeout.verdict
    assert top_causes(books)[0][1].id == "db-path-blocked"


def test_host_timeout_alone_is_only_possible() -> None:
    c = cause(run(["dns.db_ok", "reach.aurora_timeout@host"]), "db-path-blocked")
    assert c.state == CauseState.possible


def test_ranking_within_a_playbook() -> None:
    books = run(["sg.redis_ingress_missing", "drift.value_differs", "dns.db_ok", "sg.aurora_ok"])
    jobs = book(books, "jobs-fail-immediately")
    assert [c.id for c in jobs.causes][:2] == ["missing-redis-ingress", "stale-ssm-values"]
    assert [c.state for c in jobs.causes] == [C, L, R, R]
    assert jobs.causes[0].score > jobs.causes[1].score
    assert "missing-redis-ingress" in jobs.verdict and "also stale-ssm-values" in jobs.verdict


def test_more_matching_evidence_scores_higher() -> None:
    one = cause(run(["queue.no_consumer"]), "workers-not-consuming")
    three = cause(run(["queue.no_consumer", "queue.stale_reservations", "queue.overdue_delayed"]),
                  "workers-not-consuming")
    assert one.state == three.state == CauseState.confirmed
    assert three.score > one.score
    assert len(three.evidence) == 3


def test_conflict_lists_refuting_uids_and_lowers_score() -> None:
    clean = cause(run(["sg.redis_ingress_missing"]), "missing-redis-ingress")
    torn = cause(run(["sg.redis_ingress_missing", "reach.redis_ok@task"]), "missing-redis-ingress")
    assert torn.refuting and all(u.startswith("reach.redis:") for u in torn.refuting)
    assert torn.score < clean.score and "conflicting" in torn.reason


def test_ruled_out_lists_refuting_uids() -> None:
    c = cause(run(["sg.aurora_ok"]), "missing-aurora-ingress")
    assert c.state == CauseState.ruled_out and c.refuting == [u for u in c.refuting if u.startswith("sg.ingress:")]
    assert c.refuting


def test_healthy_world_nothing_above_possible() -> None:
    books = run(OK_SIGNALS)
    states = {c.state for b in books for c in b.causes}
    assert states <= {CauseState.possible, CauseState.ruled_out, CauseState.unknown}
    assert all(b.verdict.startswith(("No cause indicated", "Nothing conclusive")) for b in books)
    assert all(c.state == CauseState.ruled_out for b in books for c in b.causes)


def test_healthy_world_without_exec_is_unknown_not_ruled_out() -> None:
    ok = [s for s in OK_SIGNALS if "@task" not in s]
    books = run(ok, {"reach.redis": "unknown", "reach.aurora": "unknown"})
    assert cause(books, "db-path-blocked").state == CauseState.unknown
    assert cause(books, "redis-path-unhealthy").state == CauseState.unknown
    assert cause(books, "missing-redis-ingress").state == CauseState.ruled_out  # sg.redis_ok suffices


# --- next steps -----------------------------------------------------------------------------
SG_EVIDENCE = {"sg.redis_ingress_missing": {"redis_sg": "sg-0redis", "worker_sg": "sg-0worker", "port": 6379,
                                            "service": SERVICES["image"]}}


def test_next_steps_are_filled_with_real_names() -> None:
    c = cause(run(["sg.redis_ingress_missing"], evidence=SG_EVIDENCE), "missing-redis-ingress")
    joined = "\n".join(c.next_steps)
    assert ("aws ec2 authorize-security-group-ingress --group-id sg-0redis --protocol tcp --port 6379 "
            "--source-group sg-0worker") in joined
    assert f"--cluster {CLUSTER} --services {SERVICES['image']}" in joined
    assert SERVICES["sync"] not in joined  # only the affected service
    assert not re.search(r"\{[a-z_]+\}", joined)


def test_unfilled_placeholders_fall_back_readably() -> None:
    c = cause(run(["sg.redis_ingress_missing"]), "missing-redis-ingress")
    joined = "\n".join(c.next_steps)
    assert "--group-id <redis-sg-id>" in joined and "--source-group <worker-sg-id>" in joined
    assert not re.search(r"\{[a-z_]+\}", joined)
    # no service named by the evidence: one command per configured service
    assert all(f"--services {s} " in joined for s in SERVICES.values())


def test_ssm_steps_name_the_parameters_and_redeploy_every_service() -> None:
    param = "/propertyfeedtemplate/production/DB_PASSWORD"
    c = cause(run(["ssm.newer_than_tasks"], evidence={"ssm.newer_than_tasks": {"parameters": [param]}}),
              "stale-ssm-values")
    assert f"aws ssm put-parameter --name {param} --type SecureString --overwrite" in "\n".join(c.next_steps)
    redeploys = [s for s in c.next_steps if "--force-new-deployment" in s]
    assert sorted(redeploys) == sorted(f"aws ecs update-service --cluster {CLUSTER} --service {s} "
                                       "--force-new-deployment" for s in SERVICES.values())


def test_db_host_steps_use_the_target_names() -> None:
    c = cause(run(["dns.db_host_stale"], evidence={"dns.db_host_stale": {
        "host": "ame-old.cluster-abc.eu-west-1.rds.amazonaws.com",
        "writer_endpoint": "ame-aurora.cluster-xyz.eu-west-1.rds.amazonaws.com"}}), "bad-db-host")
    joined = "\n".join(c.next_steps)
    assert "aws ssm get-parameter --name /propertyfeedtemplate/production/DB_HOST" in joined
    assert "--value ame-aurora.cluster-xyz.eu-west-1.rds.amazonaws.com" in joined


def test_vantage_names_the_service() -> None:
    c = cause(run(["reach.aurora_timeout@task", "dns.db_ok"]), "db-path-blocked")
    assert all(SERVICES["image"] not in s for s in c.next_steps)
    assert any(SERVICES["sync"] in s for s in c.next_steps)


def test_fill() -> None:
    assert fill("a {cluster} {worker_sg} {weird_thing}", {"cluster": "c"}) == "a c <worker-sg-id> <weird-thing>"
    assert fill("mkdir storage/{cache,views}", {}) == "mkdir storage/{cache,views}"


# --- playbook plumbing ----------------------------------------------------------------------
def test_checks_for_playbook() -> None:
    assert checks_for_playbook("timeout-symptoms") == ["sg.ingress", "dns.resolve", "reach.redis", "reach.aurora"]
    jobs = checks_for_playbook("jobs-fail-immediately")
    assert jobs[:5] == ["ssm.values", "sg.ingress", "dns.resolve", "reach.redis", "reach.aurora"]
    assert "queue.state" in checks_for_playbook("queue-not-draining")
    with pytest.raises(PlaybookError, match="unknown playbook 'nope'.*jobs-fail-immediately"):
        checks_for_playbook("nope")


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

    from doctor.engine import Engine, EngineOptions
    from doctor.registry import CheckMeta, RegisteredCheck

    meta = CheckMeta(id="queue.state", title="q", order=10, proves="p", why="w", remediation="r")

    def fake(ctx: Any) -> Any:
        yield ctx.finding("no_consumer", "bulk", "error", "no consumer", signals=["queue.no_consumer"])

    report = asyncio.run(Engine(Config(), [RegisteredCheck(meta, fake, "test")], EngineOptions()).run())
    c = cause(report.playbooks, "workers-not-consuming")
    assert c.state == CauseState.confirmed and c.evidence == ["queue.state:no_consumer:bulk"]
    assert cause(report.playbooks, "bad-db-host").state == CauseState.unknown  # its checks did not run


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


def test_log_group_comes_from_the_evidence() -> None:
    c = cause(run(["startup.runtime_dirs_missing"], evidence={"startup.runtime_dirs_missing": {
        "service": SERVICES["image"], "log_group": "/custom/image-workers"}}), "missing-runtime-dirs")
    joined = "\n".join(c.next_steps)
    assert "--log-group-name /custom/image-workers " in joined
    assert f"--service {SERVICES['image']} " in joined and SERVICES["bulk"] not in joined


# --- scope: evidence about one queue does not refute a problem on another ---------------------
def test_draining_queue_does_not_refute_another_queues_problem() -> None:
    ev = {"queue.stale_reservations": {"queue": "bulk"}, "queue.draining": {"queue": "sync"}}
    c = cause(run(["queue.stale_reservations", "queue.draining"], evidence=ev), "workers-not-consuming")
    assert c.state == CauseState.confirmed and not c.refuting, c.reason
    ev["queue.draining"] = {"queue": "bulk"}
    c = cause(run(["queue.stale_reservations", "queue.draining"], evidence=ev), "workers-not-consuming")
    assert c.state == CauseState.likely and c.refuting, c.reason


def test_one_service_reaching_aurora_does_not_refute_anothers_timeout() -> None:
    ev = {"reach.aurora_timeout@task": {"vantage": f"task:{SERVICES['image']}"},
          "reach.aurora_ok@task": {"vantage": f"task:{SERVICES['sync']}"}}
    c = cause(run(["reach.aurora_timeout@task", "dns.db_ok", "reach.aurora_ok@task"], evidence=ev), "db-path-blocked")
    assert c.state == CauseState.confirmed and not c.refuting, c.reason
    assert any(SERVICES["image"] in s for s in c.next_steps)
    assert not any(SERVICES["sync"] in s for s in c.next_steps)


def test_combination_must_hold_for_one_queue() -> None:
    split = {"ecs.zero_running": {"service": SERVICES["bulk"]}, "queue.backlog": {"queue": "image"}}
    c = cause(run(["ecs.zero_running", "queue.backlog"], evidence=split), "workers-not-consuming")
    assert c.state == CauseState.likely, c.reason  # zero running alone; the backlog is another queue's
    same = {"ecs.zero_running": {"service": SERVICES["bulk"]}, "queue.backlog": {"queue": "bulk"}}
    c = cause(run(["ecs.zero_running", "queue.backlog"], evidence=same), "workers-not-consuming")
    assert c.state == CauseState.confirmed, c.reason


def test_sg_ids_from_sg_ingress_style_evidence() -> None:
    ev = {"sg.redis_ingress_missing": {"kind": "redis", "store": "ame-redis", "port": 6379,
                                       "data_security_groups": ["sg-0data"], "worker_security_groups": ["sg-0wk"],
                                       "referenced_security_groups": ["sg-0old"], "services": [SERVICES["bulk"]]},
          "sg.aurora_ok": {"kind": "aurora", "store": "ame-aurora", "port": 3306,
                           "data_security_groups": ["sg-0aur"],
                           "granted_by": {SERVICES["sync"]: ["sg-0aur <- sg-0wk"]}}}
    books = run(["sg.redis_ingress_missing", "sg.old_ip_rules_only", "sg.aurora_ok"], evidence=ev)
    c = cause(books, "missing-redis-ingress")
    joined = "\n".join(c.next_steps)
    assert "authorize-security-group-ingress --group-id sg-0data --protocol tcp --port 6379 --source-group sg-0wk" \
        in joined
    assert "sg-0old" not in joined and f"--services {SERVICES['bulk']} " in joined
    # old /32 rules alone say nothing about Aurora
    assert cause(books, "missing-aurora-ingress").state == CauseState.ruled_out


def test_worker_sg_from_a_grant_when_the_sg_is_fine() -> None:
    ev = {"reach.aurora_timeout@task": {"vantage": f"task:{SERVICES['image']}"},
          "sg.aurora_ok": {"kind": "aurora", "data_security_groups": ["sg-0aur"],
                           "granted_by": {SERVICES["image"]: ["sg-0aur <- sg-0wk"]}}}
    c = cause(run(["reach.aurora_timeout@task", "dns.db_ok", "sg.aurora_ok"], evidence=ev), "db-path-blocked")
    assert any("--group-ids sg-0aur sg-0wk " in s for s in c.next_steps), c.next_steps


def test_direct_finding_outranks_an_inference_for_the_same_fault() -> None:
    """SG fault seen from the task too: the SG (shown directly) ranks first; the path cause it explains steps back."""
    books = run(["sg.redis_ingress_missing", "reach.redis_timeout@task", "dns.redis_ok", "dns.db_ok", "sg.aurora_ok"])
    ingress, path = cause(books, "missing-redis-ingress"), cause(books, "redis-path-unhealthy")
    assert ingress.state == CauseState.confirmed and path.state == CauseState.likely
    assert "explained by missing-redis-ingress" in path.reason
    assert ingress.score > path.score
    assert top_causes(books)[0][1].id == "missing-redis-ingress"


def test_generic_cause_yields_to_a_specific_one_for_the_same_service() -> None:
    same = {"startup.runtime_dirs_missing": {"service": SERVICES["image"]},
            "startup.bootstrap_failed": {"service": SERVICES["image"]}}
    books = run(["startup.runtime_dirs_missing", "startup.bootstrap_failed"], evidence=same)
    book_ = book(books, "no-steady-state")
    assert [(c.id, c.state) for c in book_.causes][:2] == [("missing-runtime-dirs", C), ("bad-bootstrap", L)]
    assert "explained by missing-runtime-dirs" in book_.causes[1].reason
    # another service's bootstrap failure is not explained by the image service's missing directories
    other = dict(same, **{"startup.bootstrap_failed": {"service": SERVICES["bulk"]}})
    books = run(["startup.runtime_dirs_missing", "startup.bootstrap_failed"], evidence=other)
    assert cause(books, "bad-bootstrap").state == C


def test_yields_to_must_name_an_existing_cause(tmp_path: Any) -> None:
    from doctor.diagnosis import load_playbooks

    text = (Path(__file__).resolve().parent.parent / "playbooks" / "no-steady-state.md").read_text()
    (tmp_path / "no-steady-state.md").write_text(text.replace("yields_to: [bad-container-image,",
                                                              "yields_to: [bad-container-imag,"))
    with pytest.raises(PlaybookError, match=r"no-steady-state\.md: causes\[2\]\.yields_to\[0\]: no playbook has "
                                            r"a cause 'bad-container-imag'"):
        load_playbooks(tmp_path)


def test_writer_endpoint_and_cluster_from_dns_evidence() -> None:
    ev = {"dns.db_host_stale": {"host": "ame-old.cluster-x.eu-west-1.rds.amazonaws.com",
                                "writer_endpoints": {"ame-aurora": "ame-aurora.cluster-y.eu-west-1.rds.amazonaws.com"}}}
    c = cause(run(["dns.db_host_stale"], evidence=ev), "bad-db-host")
    joined = "\n".join(c.next_steps)
    assert "describe-db-clusters --db-cluster-identifier ame-aurora " in joined
    assert "--value ame-aurora.cluster-y.eu-west-1.rds.amazonaws.com" in joined
