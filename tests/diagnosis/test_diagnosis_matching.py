"""Cause states from signal sets (doctor.diagnosis.matching): tiers, rule-outs, unknown vs ruled out,
vantage and scope per queue, each cause on its own (synthetic reports, no servers). Which cause explains
which is tests/diagnosis/test_diagnosis_causal.py."""

from __future__ import annotations

import pytest

from doctor import registry
from doctor.diagnosis import top_causes
from doctor.model import CauseState

from support.diagnosis import OK_SIGNALS, SERVICES, C, L, P, R, U, book, cause, run

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
    ("scaler-not-waking", ["scaler.idle_with_backlog", "scaler.errors"], {}, C),
    ("scaler-not-waking", ["scaler.idle_with_backlog", "scaler.disabled"], {}, C),
    ("scaler-not-waking", ["scaler.idle_with_backlog", "scaler.role_denied"], {}, L),
    ("scaler-not-waking", ["scaler.idle_with_backlog"], {}, P),
    ("scaler-not-waking", ["scaler.errors"], {"scaler.controller": "fail", "queue.state": "pass",
                                              "ecs.service": "pass"}, R),
    ("scaler-not-waking", ["scaler.ok"], {}, R),
    ("scaler-not-waking", [], {"scaler.controller": "unknown"}, U),
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
    ("db-path-blocked", ["sg.aurora_ingress_missing"], {}, L),     # a root cause only if nothing explains it
    ("db-path-blocked", ["sg.aurora_ingress_missing"], {"sg.ingress": "fail", "reach.aurora": "unknown"}, L),
    ("db-path-blocked", ["logs.db_timeout"], {}, L),
    ("db-path-blocked", ["reach.aurora_timeout@host", "dns.db_ok"], {}, P),
    ("db-path-blocked", ["reach.aurora_ok@task"], {}, R),
    ("db-path-blocked", ["reach.aurora_ok@host"], {"reach.aurora": "unknown"}, U),  # no exec: host only
    ("db-path-blocked", ["reach.aurora_timeout@task", "dns.db_ok", "reach.aurora_ok@task"], {}, L),
    # DB_HOST names a dead cluster: a timeout there is not the path to the live writer
    ("db-path-blocked", ["reach.aurora_timeout@task", "dns.db_host_stale"], {}, P),
    ("db-path-blocked", ["logs.db_timeout", "dns.db_host_stale"], {}, P),
    # redis-path-unhealthy
    ("redis-path-unhealthy", ["reach.redis_timeout@task", "dns.redis_ok"], {}, C),
    ("redis-path-unhealthy", ["reach.redis_timeout@task"], {}, L),
    ("redis-path-unhealthy", ["sg.redis_ingress_missing"], {}, L),   # a root cause only if nothing explains it
    ("redis-path-unhealthy", ["reach.redis_timeout@task", "dns.redis_host_stale"], {}, P),
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
    books = run([], {c: "unknown" for c in registry.check_ids()})
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
