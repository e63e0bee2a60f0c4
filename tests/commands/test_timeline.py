"""``ame-doctor timeline``: a run (the checks, then what changed tied to the root cause) against moto's server and
the CloudTrail stand-in, the timeline of a saved report, and bad input as one line with exit 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from doctor.config import Config
from doctor.redact import Redactor
from doctor.sim.cloudtrail import CloudTrailStandIn, event
from doctor.timeline.assemble import assemble

from support.ecs_helpers import backend_task
from support.render import check, finding, report, root_cause
from support.timeline import change, collected

PARAM = "/propertyfeedtemplate/production/DB_PASSWORD"


def test_a_run_links_the_parameter_change_to_the_stale_values(cli: Any, moto_endpoint: str,
                                                              cloudtrail: CloudTrailStandIn) -> None:
    import boto3

    from doctor.sim.world import build_world

    session = boto3.Session(region_name="eu-west-1")
    world = build_world(session)
    _age(world)  # the tasks started two hours ago, the parameters were set before them
    session.client("ssm").put_parameter(Name=PARAM, Value="r0tated-pw-2026", Type="SecureString", Overwrite=True)
    cloudtrail.add(event("PutParameter", "ssm.amazonaws.com", datetime.now(UTC) - timedelta(seconds=1), {
        "name": PARAM, "type": "SecureString", "overwrite": True, "value": "HIDDEN_DUE_TO_SECURITY_REASONS"}))
    res = cli("timeline", "--only", "ssm.values", "--since", "2h", "--format", "json")
    assert res.returncode == 1, res.stderr
    tl = json.loads(res.stdout)
    [link] = [link for link in tl["links"] if link["cause"] == "stale-ssm-values"]
    changed = next(e for e in tl["events"] if e["id"] == link["change"])
    assert changed["source"] == "cloudtrail" and changed["resources"] == [f"param:{PARAM}"]
    assert link["text"].startswith(f"SSM parameter {PARAM} changed by AWSReservedSSO_PlatformAdmin_5f1e/alex@example.com")
    assert {s["name"]: s["status"] for s in tl["sources"]}["cloudtrail"] == "ok"
    asked = {c["request"]["LookupAttributes"][0]["AttributeValue"] for c in cloudtrail.calls}
    assert "PutParameter" in asked
    span = cloudtrail.calls[0]["request"]["EndTime"] - cloudtrail.calls[0]["request"]["StartTime"]
    assert span == pytest.approx(2 * 3600, abs=5)
    assert "r0tated-pw-2026" not in res.stdout + res.stderr
    text = cli("timeline", "--only", "ssm.values", "--since", "2h")
    assert "ROOT CAUSE jobs-fail-immediately/stale-ssm-values (confirmed)" in text.stdout
    assert "CHANGE  [cloudtrail] SSM parameter" in text.stdout


def test_a_narrow_run_leaves_the_timeline_to_the_timeline_command(cli: Any, moto_endpoint: str,
                                                                 cloudtrail: CloudTrailStandIn) -> None:
    """``run --only`` is for speed: it reads no change source (the timeline command above, with the same --only,
    has the checks and the timeline); a whole run attaches it."""
    import boto3

    from doctor.sim.world import build_world

    build_world(boto3.Session(region_name="eu-west-1"))
    narrow = cli("run", "--only", "ssm.values", "--format", "json")
    assert json.loads(narrow.stdout)["timeline"]["sources"] == [] and cloudtrail.calls == [], narrow.stderr
    whole = cli("run", "--skip", "reach.redis,reach.aurora,queue.state", "--format", "json")
    assert json.loads(whole.stdout)["timeline"]["sources"] and cloudtrail.calls, whole.stderr


def _age(world: Any) -> None:
    """What moto does not report: the tasks started two hours ago, every parameter was set three hours ago (moto's
    server runs in this process: its backend is bent, never the product)."""
    from moto.ssm.models import ssm_backends

    for arns in world.tasks.values():
        for arn in arns:
            backend_task(world.spec.cluster, arn).started_at = datetime.now(UTC) - timedelta(hours=2)
    for versions in ssm_backends["123456789012"]["eu-west-1"]._parameters.values():
        for version in versions:
            version.last_modified_date = datetime.now(UTC) - timedelta(hours=3)


def _saved(tmp_path: Path) -> Path:
    f = finding("ssm.values:newer_than_tasks:image", resources=[PARAM], signals=["ssm.newer_than_tasks"])
    rep = report([check("ssm.values", "fail", [f])],
                 root_causes=[root_cause("jobs-fail-immediately", "stale-ssm-values", evidence=[f.uid])])
    rep.timeline = assemble(rep, collected(change("ct:1", 12, [f"param:{PARAM}"], verb="changed")), Config(),
                            Redactor())
    path = tmp_path / "report.json"
    path.write_text(rep.to_json(), encoding="utf-8")
    return path


@pytest.mark.parametrize(("fmt", "expected"), [
    ("text", f"  - SSM parameter {PARAM} changed by deploy/alex 12 min before the doctor saw"),
    ("markdown", "## Timeline"),
    ("json", '"change": "ct:1"'),
])
def test_the_timeline_of_a_saved_report(cli: Any, tmp_path: Path, fmt: str, expected: str) -> None:
    res = cli("timeline", "--report", str(_saved(tmp_path)), "--format", fmt)
    assert res.returncode == 0 and expected in res.stdout, res.stdout + res.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "6x"], "--since: '6x' is not a duration"),
    (["--since", "0h"], "--since: '0h' is not a duration"),
    (["--format", "junit"], "--format junit: the timeline is shown as text, json, markdown"),
    (["--report", "nope.json"], "nope.json: no such file"),
    (["--report", "r.json", "--since", "6h"], "--since applies to a run"),
])
def test_bad_input_is_one_line_and_exit_2(cli: Any, tmp_path: Path, args: list[str], message: str) -> None:
    res = cli("timeline", *args, cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and message in res.stderr, res.stderr
