"""Correlation: each root cause's changes in scope before its first symptom, nearest first, with the gap; changes
after it or outside the scope, and symptoms with no change before them, are leads."""

from __future__ import annotations

import pytest

from doctor.config import Config
from doctor.model import Finding, Report, RootCause, Timeline, TimelineEvent
from doctor.redact import Redactor
from doctor.timeline.assemble import assemble
from doctor.timeline.context import ServiceContext
from doctor.timeline.correlate import gap

from support.render import check, finding, report, root_cause
from support.timeline import IMAGE, change, collected, symptom

REDIS_SG, WORKER_SG, OTHER_SG = "sg-0aaa1111bbbb2222c", "sg-0ddd3333eeee4444f", "sg-0fff5555aaaa6666b"
PARAM = "/propertyfeedtemplate/production/DB_PASSWORD"


def _sg_finding() -> Finding:
    return finding(f"sg.ingress:redis_no_rule:ame-redis:{WORKER_SG}", resources=[REDIS_SG, WORKER_SG, IMAGE],
                   evidence={"kind": "redis", "store": "ame-redis", "data_security_groups": [REDIS_SG],
                             "worker_security_groups": [WORKER_SG], "services": [IMAGE]},
                   signals=["sg.redis_ingress_missing"])


def _log_finding() -> Finding:
    return finding(f"ecs.startup:log_redis_timeout:{IMAGE}", resources=[IMAGE, "/ecs/image"],
                   evidence={"service": IMAGE}, signals=["logs.redis_timeout"], title="Redis connection timed out")


def _redis_report() -> tuple[Report, RootCause]:
    sg, log = _sg_finding(), _log_finding()
    rc = root_cause("jobs-fail-immediately", "missing-redis-ingress", services=(IMAGE,),
                    evidence=[sg.uid, log.uid])
    rep = report([check("sg.ingress", "fail", [sg]), check("ecs.startup", "fail", [log], order=7)],
                 root_causes=[rc])
    return rep, rc


def _timeline(rep: Report, *events: TimelineEvent, contexts: dict[str, ServiceContext] | None = None) -> Timeline:
    return assemble(rep, collected(*events, contexts=contexts), Config(), Redactor())


def test_the_change_in_scope_before_the_first_symptom_is_linked_with_the_gap() -> None:
    rep, _ = _redis_report()
    tl = _timeline(rep,
                   change("ct:revoke", 50, [f"sg:{REDIS_SG}"], verb="ingress rule revoked (tcp 6379 from sg-x)"),
                   symptom("logs:image:redis", 9, signals=["logs.redis_timeout"], services=[IMAGE],
                           phrase=f"the first 'Redis connection timed out' on {IMAGE}"))
    [link] = tl.links
    assert (link.cause, link.change, link.symptom, link.gap_s) == ("missing-redis-ingress", "ct:revoke",
                                                                   "logs:image:redis", 41 * 60)
    assert link.text == (f"Redis SG {REDIS_SG} ingress rule revoked by deploy/alex 41 min before the first "
                         f"'Redis connection timed out' on {IMAGE}")
    assert link.via == [f"sg:{REDIS_SG}"]
    assert tl.unmatched_changes == [] and tl.unexplained_symptoms == []
    revoke = tl.event("ct:revoke")
    assert revoke is not None and revoke.finding == _sg_finding().uid


def test_nearest_first_and_nothing_after_the_first_symptom_or_outside_the_scope() -> None:
    rep, _ = _redis_report()
    tl = _timeline(rep,
                   change("ct:old", 300, [f"sg:{REDIS_SG}"]),
                   change("ct:near", 20, [f"service:{IMAGE}"], verb="updated"),
                   change("ct:after", 5, [f"sg:{REDIS_SG}"]),
                   change("ct:elsewhere", 30, [f"sg:{OTHER_SG}"]),
                   symptom("logs:image:redis", 10, signals=["logs.redis_timeout"], services=[IMAGE]))
    assert [link.change for link in tl.links] == ["ct:near", "ct:old"]
    assert [link.gap_s for link in tl.links] == [10 * 60, 290 * 60]
    assert tl.unmatched_changes == ["ct:elsewhere", "ct:after"]  # oldest first


def test_a_symptom_of_another_signal_or_service_is_not_this_cause_s_first_symptom() -> None:
    rep, _ = _redis_report()
    tl = _timeline(rep,
                   change("ct:revoke", 40, [f"sg:{REDIS_SG}"]),
                   symptom("logs:image:oom", 60, signals=["logs.memory_exhausted"], services=[IMAGE]),
                   symptom("logs:bulk:redis", 60, signals=["logs.redis_timeout"], services=["propertyfeedtemplate-bulk"]),
                   symptom("logs:image:redis", 30, signals=["logs.redis_timeout"], services=[IMAGE]))
    assert [(link.change, link.symptom) for link in tl.links] == [("ct:revoke", "logs:image:redis")]
    assert set(tl.unexplained_symptoms) == {"logs:image:oom", "logs:bulk:redis"}


def test_no_timed_symptom_the_doctor_s_sighting_is_the_first_and_no_change_is_a_lead() -> None:
    rep, _ = _redis_report()
    tl = _timeline(rep, change("ct:elsewhere", 30, [f"sg:{OTHER_SG}"]))
    assert tl.links == []
    seen = [e for e in tl.events if e.source == "doctor"]
    assert len(seen) == 1 and seen[0].finding == _log_finding().uid
    assert seen[0].at == rep.run.started_at[:19] + "+00:00"
    assert tl.unexplained_symptoms == [seen[0].id] and tl.unmatched_changes == ["ct:elsewhere"]


def test_a_change_long_before_is_linked_to_the_doctor_s_sighting() -> None:
    rep, _ = _redis_report()
    tl = _timeline(rep, change("ct:revoke", 125, [f"sg:{REDIS_SG}"], verb="ingress rule revoked"))
    [link] = tl.links
    assert link.symptom == f"doctor:{_log_finding().uid}" and link.gap_s == 125 * 60
    assert link.text.startswith(f"Redis SG {REDIS_SG} ingress rule revoked by deploy/alex 2 h 5 min before the "
                                "doctor saw 'Redis connection timed out' (ecs.startup)")


@pytest.mark.parametrize(("check_id", "kind", "linked"), [
    ("ecs.startup", "taskdef:propertyfeedtemplate-image", True),    # a startup cause: its revision and roles
    ("ecs.startup", "role:ame-ecs-execution", True),
    ("ecs.startup", "nacl:acl-0123456789abcdef0", False),           # ... not its subnets' NACLs
    ("reach.aurora", "nacl:acl-0123456789abcdef0", True),           # a network cause: its NACLs and SGs
    ("reach.aurora", f"sg:{WORKER_SG}", True),
    ("reach.aurora", "role:ame-ecs-execution", False),
])
def test_what_a_service_is_made_of_is_in_scope_by_the_kind_of_cause(check_id: str, kind: str, linked: bool) -> None:
    f = finding(f"{check_id}:x:{IMAGE}", resources=[IMAGE], evidence={"service": IMAGE}, signals=["x.y"])
    rc = root_cause("p", "c", services=(IMAGE,), evidence=[f.uid])
    rep = report([check(check_id, "fail", [f])], root_causes=[rc])
    ctx = ServiceContext(IMAGE, taskdef=IMAGE, roles=["ame-ecs-execution", "ame-worker-task"],
                         security_groups=[WORKER_SG], nacls=["acl-0123456789abcdef0"])
    tl = _timeline(rep, change("ct:1", 30, [kind]), contexts={IMAGE: ctx})
    assert bool(tl.links) is linked


def test_a_queue_cause_is_about_the_scaler_too() -> None:
    f = finding("queue.state:no_consumer:image", resources=[IMAGE], evidence={"queue": "image", "service": IMAGE},
                signals=["queue.no_consumer"])
    rep = report([check("queue.state", "fail", [f])],
                 root_causes=[root_cause("queue-not-draining", "workers-not-consuming", evidence=[f.uid])])
    scaler = ["function:scaler", "rule:scaler-tick", "role:ame-queue-scaler"]
    tl = assemble(rep, collected(change("ct:role", 45, ["role:ame-queue-scaler"], event="PutRolePolicy"),
                                 scaler=scaler), Config(), Redactor())
    assert [link.change for link in tl.links] == ["ct:role"]
    tl = assemble(rep, collected(change("ct:role", 45, ["role:ame-queue-scaler"]), scaler=[]), Config(), Redactor())
    assert tl.links == [] and tl.unmatched_changes == ["ct:role"]


def test_parameter_and_data_store_resources_come_from_the_evidence() -> None:
    host = "ame-aurora-old.cluster-c0ld0ld0ld.eu-west-1.rds.amazonaws.com"
    f = finding(f"dns.resolve:db_nxdomain:{host}", resources=[host, "/propertyfeedtemplate/production/DB_HOST"],
                evidence={"host": host, "parameter": "/propertyfeedtemplate/production/DB_HOST"},
                signals=["dns.db_host_nxdomain"])
    rc = root_cause("jobs-fail-immediately", "bad-db-host", evidence=[f.uid])
    rep = report([check("dns.resolve", "fail", [f])], root_causes=[rc])
    tl = _timeline(rep, change("ct:delete", 55, ["db-cluster:ame-aurora-old"], verb="deleted"),
                   change("ct:param", 70, ["param:/propertyfeedtemplate/production/DB_HOST"]),
                   change("ct:live", 20, ["db-cluster:ame-aurora"]))
    assert [link.change for link in tl.links] == ["ct:delete", "ct:param"]
    assert tl.unmatched_changes == ["ct:live"]


def test_a_second_source_s_record_of_a_cloudtrail_change_is_merged_into_it() -> None:
    rep, _ = _redis_report()
    put = change("cloudtrail:1", 30, [f"param:{PARAM}"], event="PutParameter")
    version = change("ssm-history:v3", 29.5, [f"param:{PARAM}"])
    version = version.model_copy(update={"source": "ssm-history", "detail": {"version": 3}})
    far = change("ssm-history:v2", 300, [f"param:{PARAM}"]).model_copy(update={"source": "ssm-history"})
    tl = _timeline(rep, put, version, far)
    ids = [e.id for e in tl.events if e.kind.value == "change"]
    assert ids == ["ssm-history:v2", "cloudtrail:1"]
    merged = tl.event("cloudtrail:1")
    assert merged is not None and merged.detail["version"] == 3 and merged.detail["also"] == ["ssm-history:v3"]


def test_the_timeline_passes_the_run_s_redactor() -> None:
    rep, _ = _redis_report()
    redactor = Redactor()
    redactor.add_secret("hunter2-db-password")
    leaky = change("ct:1", 30, [f"sg:{REDIS_SG}"], verb="rule added (description hunter2-db-password)")
    tl = assemble(rep, collected(leaky), Config(), redactor)
    assert "hunter2" not in tl.model_dump_json()


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "moments"), (59, "moments"), (60, "1 min"), (41 * 60 + 59, "41 min"), (119 * 60, "119 min"),
    (2 * 3600, "2 h"), (3 * 3600 + 5 * 60, "3 h 5 min"), (48 * 3600, "2 d"), (50 * 3600, "2 d 2 h"),
])
def test_gap(seconds: int, text: str) -> None:
    assert gap(seconds) == text
