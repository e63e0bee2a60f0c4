"""Saved reports of schema 1 (no root causes) still work with ``report``, ``view`` and ``diff``: their
root causes are derived on reading (doctor.saved); a current report is taken as it was saved.

The schema-1 fixtures were written by ame-doctor 0.1.0 before schema 2 (``ame-doctor demo SCENARIO
--headless --format json`` at the commit before the bump): a failing run (bad-container-image) and a
healthy one.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from textual.widgets import Tree

from doctor.commands.view import viewer
from doctor.model import CauseState, Diagnosis, load_report
from doctor.render import render
from doctor.saved import config_of, load_saved

from support.render import diagnosed_report

DATA = Path(__file__).resolve().parent / "support" / "data"
V1_FAILING = DATA / "report-v1-bad-container-image.json"
V1_HEALTHY = DATA / "report-v1-healthy.json"
IMAGE_ROOT = ("ROOT CAUSE: The container image cannot be pulled (confirmed) on service propertyfeedtemplate-image, "
              "queue image")


def test_the_fixtures_are_schema_1_reports() -> None:
    for path in (V1_FAILING, V1_HEALTHY):
        raw = json.loads(path.read_text(encoding="utf-8"))
        assert raw["schema_version"] == 1 and "diagnosis" not in raw
        assert load_report(str(path)).diagnosis.root_causes == []  # what reading alone gives


def test_root_causes_are_derived_for_a_schema_1_report() -> None:
    report = load_saved(str(V1_FAILING))
    assert report.schema_version == 1  # still says what was saved
    top = report.diagnosis.root_causes[0]
    assert (top.playbook, top.cause, top.state) == ("no-steady-state", "bad-container-image", CauseState.confirmed)
    assert top.scope.services == ["propertyfeedtemplate-image"] and top.scope.queues == ["image"]
    assert top.evidence and set(top.evidence) <= {f.uid for _, f in report.findings()}
    assert top.next_steps and "propertyfeedtemplate-image" in " ".join(top.next_steps)


def test_a_healthy_schema_1_report_has_no_root_cause() -> None:
    assert load_saved(str(V1_HEALTHY)).diagnosis.root_causes == []


def test_a_current_report_is_taken_as_saved(tmp_path: Path) -> None:
    rep = diagnosed_report()
    path = tmp_path / "r.json"
    path.write_text(rep.to_json(), encoding="utf-8")
    assert load_saved(str(path)) == rep
    # a current report without root causes is not diagnosed again (nothing was wrong when it ran)
    current = load_report(str(V1_FAILING)).model_copy(update={"schema_version": 2, "diagnosis": Diagnosis()})
    path.write_text(current.to_json(), encoding="utf-8")
    assert load_saved(str(path)).diagnosis.root_causes == []


def test_config_of_a_report_is_its_target() -> None:
    report = load_report(str(V1_FAILING))
    config = config_of(report)
    assert config.ecs.cluster == "propertyfeedtemplate-production" and config.aws.region == "eu-west-1"
    assert config.services == {q.service: name for name, q in report.target.queues.items()}
    odd = report.model_copy(update={"target": report.target.model_copy(update={"cluster": "no spaces allowed"})})
    assert config_of(odd).ecs.cluster == "propertyfeedtemplate-production"  # refused: the defaults


def test_report_command_leads_with_the_derived_root_cause(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("report", str(V1_FAILING))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[2].startswith(IMAGE_ROOT) and lines[4].startswith("  first step: $ aws ")
    md = cli("report", str(V1_FAILING), "--format", "markdown").stdout
    assert "## Root cause" in md and "report schema 1" in md


def test_report_command_on_a_healthy_schema_1_report_is_unchanged(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("report", str(V1_HEALTHY))
    assert res.returncode == 0, res.stderr
    assert res.stdout == render(load_report(str(V1_HEALTHY)), "text") and "ROOT CAUSE" not in res.stdout


def test_diff_across_schemas(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    worse = cli("diff", str(V1_HEALTHY), str(V1_FAILING))
    assert worse.returncode == 1, worse.stderr
    first = worse.stdout.splitlines()[0]
    assert first.startswith("root cause appeared: The container image cannot be pulled (confirmed, score ")
    assert ") on service propertyfeedtemplate-image, queue image" in first
    better = cli("diff", str(V1_FAILING), str(V1_HEALTHY))
    assert better.returncode == 0, better.stderr
    assert better.stdout.startswith("root cause resolved: The container image cannot be pulled (was confirmed")
    # a schema-1 report against a current one of the same run: the same root cause, unchanged
    current = tmp_path / "current.json"
    current.write_text(load_saved(str(V1_FAILING)).model_copy(update={"schema_version": 2}).to_json(), encoding="utf-8")
    same = cli("diff", str(V1_FAILING), str(current))
    assert same.returncode == 0 and same.stdout.startswith("root cause unchanged: The container image")


def test_view_opens_a_schema_1_report_on_its_root_cause() -> None:
    app = viewer(load_saved(str(V1_FAILING)))

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            tree = app.query_one("#diagnosis", Tree)
            assert app.view == "diagnosis"
            assert str(tree.root.children[0].label).startswith(
                "ROOT CAUSE 1. [CONFIRMED] The container image cannot be pulled")

    asyncio.run(scenario())
