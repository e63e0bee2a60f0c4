"""ame-doctor iam-policy: generated from the checks' metadata, read-only unless a transport is asked
for, and sufficient: every AWS call a real run makes against the simulated world is in the policy."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from doctor.aws import iam_action
from doctor.iam import ACTING, ENGINE_ACTIONS, policy
from doctor.registry import CheckMeta, RegisteredCheck, all_checks

READ_VERBS = ("Describe", "List", "Get", "Head", "Lookup", "Filter", "Simulate", "Decrypt")


def _actions(doc: dict[str, Any], sid: str | None = None) -> set[str]:
    return {a for s in doc["Statement"] if sid is None or s["Sid"] == sid for a in s["Action"]}


def test_every_declared_action_is_in_the_policy_and_the_base_is_read_only() -> None:
    checks = all_checks()
    doc = policy(checks)
    assert doc["Version"] == "2012-10-17" and [s["Sid"] for s in doc["Statement"]] == ["AmeDoctorReadOnly"]
    declared = {a for c in checks for a in c.meta.iam_actions}
    assert declared - ACTING <= _actions(doc)
    assert set(ENGINE_ACTIONS) <= _actions(doc)
    for action in _actions(doc):
        assert action.split(":", 1)[1].startswith(READ_VERBS), action
    assert not _actions(doc) & ACTING


def test_the_policy_follows_the_metadata() -> None:
    meta = {"proves": "p", "why": "w", "remediation": "r"}
    extra = RegisteredCheck(CheckMeta(id="synth.iam", title="t", order=50, iam_actions=("s3:GetBucketPolicy",), **meta),
                            lambda ctx: iter(()), "t.synth")
    assert "s3:GetBucketPolicy" in _actions(policy([*all_checks(), extra]))
    assert "s3:GetBucketPolicy" not in _actions(policy(all_checks()))


def test_transports_add_their_own_statement() -> None:
    base = _actions(policy(all_checks()))
    exec_doc = policy(all_checks(), ["ecs-exec"])
    assert _actions(exec_doc, "AmeDoctorProbeEcsExec") == {"ecs:ExecuteCommand"}
    task_doc = policy(all_checks(), ["probe-task"])
    assert {"ecs:RunTask", "ecs:StopTask", "iam:PassRole"} <= _actions(task_doc, "AmeDoctorProbeProbeTask")
    assert _actions(task_doc, "AmeDoctorReadOnly") == base
    assert len(policy(all_checks(), ["local", "off"])["Statement"]) == 1


def test_cli(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("iam-policy", "--exec", "all")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [s["Sid"] for s in doc["Statement"]] == ["AmeDoctorReadOnly", "AmeDoctorProbeEcsExec",
                                                     "AmeDoctorProbeProbeTask"]
    text = cli("iam-policy", "--format", "text", "--only", "ssm.values")
    assert text.returncode == 0 and "ssm.values" in text.stdout and "ssm:GetParametersByPath" in text.stdout
    bad = cli("iam-policy", "--only", "nope.nope")
    assert bad.returncode == 2 and "unknown check id nope.nope" in bad.stderr


def test_a_real_run_needs_nothing_outside_the_policy(world, dns_server) -> None:  # type: ignore[no-untyped-def]
    """Every AWS call all the checks make against the simulated platform maps to an allowed action."""
    from doctor.config import Config
    from doctor.engine import Engine

    config = Config.model_validate({
        "aws": {"region": "eu-west-1"}, "dns": {"nameservers": [dns_server.nameserver]},
        "exec": {"transport": "off", "timeout": 3}, "run": {"timeout": 60, "check_timeout": 30}})
    engine = Engine(config, all_checks())
    report = asyncio.run(engine.run())
    assert report.checks
    called = {iam_action(svc, op) for svc, op in engine.aws.calls}
    assert called, "the run made no AWS calls"
    allowed = _actions(policy(all_checks()))
    assert called - allowed == set(), f"calls outside the generated policy: {sorted(called - allowed)}"


def test_the_timeline_s_reads_are_in_the_policy() -> None:
    from doctor.iam import TIMELINE_ACTIONS

    assert {"cloudtrail:LookupEvents", "ssm:GetParameterHistory"} <= set(TIMELINE_ACTIONS)
    assert set(TIMELINE_ACTIONS) <= _actions(policy(all_checks(), []))
    assert all(a.split(":", 1)[1].startswith(READ_VERBS) for a in TIMELINE_ACTIONS)
