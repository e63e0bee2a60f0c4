"""--format json carries diagnosis.root_causes (rank order, every field), and the published schema names them."""

from __future__ import annotations

import json

from doctor.model import Report
from doctor.render import render

from support.render import diagnosed_report


def test_root_causes_round_trip_in_rank_order() -> None:
    rep = diagnosed_report()
    data = json.loads(render(rep, "json"))
    roots = data["diagnosis"]["root_causes"]
    assert [(r["playbook"], r["cause"], r["state"]) for r in roots] == [
        ("jobs-fail-immediately", "missing-redis-ingress", "confirmed"),
        ("jobs-fail-immediately", "stale-ssm-values", "likely")]
    assert roots[0]["scope"] == {"services": ["propertyfeedtemplate-image"], "queues": ["image"]}
    assert roots[0]["explains"][1] == {
        "playbook": "queue-not-draining", "cause": "workers-not-consuming", "title": "No worker is consuming the queue",
        "state": "confirmed", "score": 0.92, "scope": {"services": [], "queues": ["image"]}}
    assert Report.model_validate(data) == rep


def test_the_schema_command_describes_root_causes(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("schema")
    assert res.returncode == 0, res.stderr
    defs = json.loads(res.stdout)["$defs"]
    assert defs["Diagnosis"]["properties"]["root_causes"]["items"] == {"$ref": "#/$defs/RootCause"}
    assert {"playbook", "cause", "title", "state", "score", "scope", "evidence", "explains", "next_steps"} <= set(
        defs["RootCause"]["properties"])
    assert {"services", "queues"} == set(defs["Scope"]["properties"])
