"""ame-doctor demo: the scenario framework, the CLI, and every scenario diagnosed by the real checks.

The scenario matrix reads each scenario's run from the session's ``scenario_runs`` (one simulated production per
scenario on the shared redis-server and MariaDB: moto world, DNS responder, local probe; built once for this,
the root-cause, timeline and evidence tables) and asserts the demo's verdict — the injected cause strictly on
top, explaining exactly what it should — and the JUnit / Markdown outputs of that run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from doctor.diagnosis import load_playbooks
from doctor.sim.scenarios import SCENARIOS, Scenario, start, verdict

from support.demo import run_platform
from support.render import JUNIT_XSD

pytestmark = pytest.mark.xdist_group("scenario_runs")  # one worker builds the scenario worlds once


def test_one_scenario_per_playbook_cause_plus_healthy() -> None:
    causes = {c.id: b.id for b in load_playbooks() for c in b.causes}
    faults = {s.cause: s.playbook for s in SCENARIOS.values() if s.cause}
    assert faults == causes
    assert SCENARIOS["healthy"].cause is None
    assert all(s.description for s in SCENARIOS.values())


def test_cli_list(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("demo", "--list")
    assert res.returncode == 0, res.stderr
    for name, s in SCENARIOS.items():
        assert name in res.stdout
        if s.cause:
            assert f"{s.playbook} / {s.cause}" in res.stdout


def test_cli_unknown_scenario_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("demo", "no-such-scenario")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "unknown scenario 'no-such-scenario'" in res.stderr


def test_cli_healthy_headless(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Not a TTY -> headless; the report comes from the registered checks (none canned)."""
    from doctor.registry import all_checks

    out = tmp_path / "demo.md"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    res = cli("demo", "healthy", "--format", "json", "--output", str(out), env={"TMPDIR": str(tmp)}, timeout=240)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in tmp.glob("ame-demo-*")) == []  # its app root, .env and report are gone
    report = json.loads(res.stdout)
    assert [c["id"] for c in report["checks"]] == [c.id for c in all_checks()]
    assert report["target"]["cluster"] == "propertyfeedtemplate-production"
    passed = {c["id"] for c in report["checks"] if c["status"] == "pass"}
    assert {"ssm.values", "sg.ingress", "reach.redis", "queue.state"} <= passed, res.stderr
    assert not [c for p in report["playbooks"] for c in p["causes"] if c["state"] in ("confirmed", "likely")]
    assert "injected: no fault -> diagnosed" in res.stderr
    assert out.read_text(encoding="utf-8").startswith("# ame-doctor:")


@pytest.mark.parametrize("failure", [KeyboardInterrupt, RuntimeError])
def test_demo_removes_its_temp_dir_on_error_and_ctrl_c(failure: type[BaseException], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse
    import tempfile

    from doctor.commands import demo
    from doctor.sim import scenarios

    seen: list[Path] = []

    def broken_start(scenario: Any, progress: Any, workdir: Path) -> Any:
        (workdir / "production.env").write_text("DB_PASSWORD=s3cret\n")  # what a real start leaves there
        seen.append(workdir)
        raise failure("while starting")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(scenarios, "start", broken_start)
    args = argparse.Namespace(list=False, scenario="healthy", headless=True, format="text", output=[], no_color=True)
    with pytest.raises(failure):
        demo.main(args, ["demo"])
    assert seen and seen[0].parent == tmp_path and not seen[0].exists()
    assert list(tmp_path.glob("ame-demo-*")) == []


# --- the scenario matrix ----------------------------------------------------------------------
def _explain(report: Any) -> str:
    lines = [f"{c.id}: {c.status.value} {c.summary} {[f.signals for f in c.findings]}" for c in report.checks]
    lines += [f"{p.id}/{c.id}: {c.state.value} {c.score} {c.reason}" for p in report.playbooks for c in p.causes
              if c.state.value in ("confirmed", "likely", "possible")]
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_scenario_is_diagnosed(scenario: Scenario, scenario_runs: Any) -> None:
    """The demo's verdict and its CI/incident outputs on the scenario's run (shared with the root-cause, timeline
    and evidence tables: each world is built and diagnosed once per session)."""
    report = scenario_runs(scenario.name).report
    ok, why = verdict(scenario, report)
    assert ok, f"{why}\n{_explain(report)}"
    _outputs_hold(scenario, report)


def _outputs_hold(scenario: Scenario, report: Any) -> None:
    """The CI and incident outputs of a real run: JUnit valid with the right counts, Markdown leads with the cause."""
    import xml.etree.ElementTree as ET

    from doctor.render import render

    xml = render(report, "junit")
    xmlschema = pytest.importorskip("xmlschema")
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(xml)
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    s = report.summary
    rooted = 1 if report.diagnosis.root_causes else 0  # the run's root cause is one more failing testcase
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        str(len(report.checks) + rooted), str(s.fail + rooted), str(s.error), str(s.unknown + s.skipped))
    md = render(report, "markdown")
    diagnosis = md.split("## Diagnosis", 1)[1].split("## Checks", 1)[0]
    if scenario.cause is None:
        assert "No cause is confirmed or likely." in diagnosis
    else:
        first = next(line for line in diagnosis.splitlines() if line.startswith("### "))
        assert f"/ {scenario.cause})" in first.replace("`", ""), first


# --- machines without the servers ---------------------------------------------------------------
@pytest.fixture
def no_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine with neither redis-server nor MariaDB installed."""
    import doctor.sim.servers as servers

    real = servers.which

    def which(*names: str) -> str:
        if any(n.startswith(("redis", "mariadb", "mysql")) for n in names):
            raise servers.ServerUnavailable(f"none of {', '.join(names)} is installed")
        return real(*names)

    monkeypatch.setattr(servers, "which", which)


@pytest.mark.slow
def test_without_servers_fakeredis_serves_and_the_database_parts_say_so(no_servers: None, tmp_path: Path) -> None:
    platform = start(SCENARIOS["healthy"], workdir=tmp_path)
    try:
        assert platform.redis_kind == "fakeredis" and platform.db is None
        assert platform.skip == ["reach.aurora"]
        assert any("no MariaDB/MySQL server installed" in n for n in platform.notes)
        report = run_platform(platform)
    finally:
        platform.stop()
    status = {c.id: c.status.value for c in report.checks}
    assert "reach.aurora" not in status
    assert status["reach.redis"] == "pass", _explain(report)
    ok, why = verdict(SCENARIOS["healthy"], report)
    assert ok, f"{why}\n{_explain(report)}"


def test_database_scenarios_are_refused_without_a_database(no_servers: None, tmp_path: Path) -> None:
    from doctor.sim.scenarios import ScenarioUnavailable

    with pytest.raises(ScenarioUnavailable, match="needs a MariaDB/MySQL server"):
        start(SCENARIOS["db-path-blocked"], workdir=tmp_path)
