"""The timeline in the outputs: a compact "what changed" block under each root cause in text, a ``## Timeline``
section in Markdown (text from the target escaped), the full view of ``ame-doctor timeline``; a report without a
timeline (older, or a run without it) shows none of it, and schema-1 reports still load."""

from __future__ import annotations

import json
from pathlib import Path

from doctor.config import Config
from doctor.model import Report, SourceStatus, TimelineEvent, TimelineSource, load_report
from doctor.redact import Redactor
from doctor.render import render
from doctor.render.timeline import render_text, what_changed
from doctor.timeline.assemble import assemble

from support.render import check, finding, report, root_cause
from support.timeline import IMAGE, change, collected, symptom

SG = "sg-0aaa1111bbbb2222c"


def _report(*events: TimelineEvent, missing: bool = False) -> Report:
    f = finding(f"sg.ingress:redis_no_rule:{SG}", resources=[SG, IMAGE], title="Redis SG | blocks @team",
                evidence={"kind": "redis", "data_security_groups": [SG]}, signals=["sg.redis_ingress_missing"])
    rc = root_cause("jobs-fail-immediately", "missing-redis-ingress", services=(IMAGE,), evidence=[f.uid])
    rep = report([check("sg.ingress", "fail", [f])], root_causes=[rc])
    rep.timeline = assemble(rep, collected(*events), Config(), Redactor())
    if missing:
        rep.timeline.sources.append(TimelineSource(name="cloudtrail", status=SourceStatus.missing,
                                                   unlock="cloudtrail:LookupEvents"))
    return rep


def _changes(n: int) -> list[TimelineEvent]:
    return [change(f"ct:{i}", 10 + i, [f"sg:{SG}"], verb="ingress rule revoked", actor="deploy/alex") for i in range(n)]


def test_text_shows_what_changed_under_the_root_cause() -> None:
    text = render(_report(*_changes(1)), "text")
    assert "what changed (since 2026-11-27 02:00:00Z, nearest first):" in text
    assert f"    - Redis SG {SG} ingress rule revoked by deploy/alex 10 min before the doctor saw" in text
    assert text.index("ROOT CAUSE") < text.index("what changed") < text.index("Checks")


def test_at_most_three_changes_then_a_pointer_and_the_missing_sources() -> None:
    rep = _report(*_changes(5), missing=True)
    lines = what_changed(rep.timeline, rep.diagnosis.root_causes[0])
    assert len([x for x in lines if x.startswith("    - ")]) == 3
    assert "    (+2 earlier, see `ame-doctor timeline`)" in lines
    assert lines[-1] == "    not read: cloudtrail (needs cloudtrail:LookupEvents)"


def test_no_change_in_scope_is_said_and_is_a_lead() -> None:
    rep = _report(change("ct:other", 30, ["sg:sg-0fff5555aaaa6666b"]))
    [line] = what_changed(rep.timeline, rep.diagnosis.root_causes[0])
    assert line.startswith("  what changed: nothing in its scope since 2026-11-27 02:00:00Z — a lead")
    full = render_text(rep)
    assert "Changes tied to no root cause (leads):" in full and "sg-0fff5555aaaa6666b" in full
    assert "Symptoms with no change before them" in full


def test_markdown_section_escapes_the_target_s_text() -> None:
    rep = _report(*_changes(1), symptom("logs:x", 5, services=[IMAGE], signals=["logs.redis_timeout"]))
    rep.timeline.events[0].title = "SG | rule <b>revoked</b> by @alice #12"
    md = render(rep, "markdown")
    section = md.split("## Timeline", 1)[1].split("\n## ", 1)[0]
    assert "| Time (UTC) | | Source | What | Who |" in section
    assert "SG \\| rule \\<b\\>revoked\\</b\\> by \\@alice \\#12" in section
    assert "<b>" not in section and "@alice" not in section.replace("\\@alice", "")
    assert md.index("## Root cause") < md.index("## Timeline") < md.index("## Diagnosis")


def test_a_report_without_a_timeline_shows_none_of_it() -> None:
    rep = report([check("ssm.values", "pass")], root_causes=[root_cause("p", "c")])
    assert "what changed" not in render(rep, "text")
    assert "## Timeline" not in render(rep, "markdown")
    assert "no timeline" in render_text(rep)


def test_a_schema_1_report_loads_with_an_empty_timeline(tmp_path: Path) -> None:

    data = json.loads(report([check("ssm.values", "pass")]).to_json())
    data["schema_version"] = 1
    for key in ("timeline", "diagnosis"):
        data.pop(key)
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    loaded = load_report(str(path))
    assert loaded.timeline.events == [] and loaded.timeline.sources == []
