"""Every demo scenario (doctor.sim.scenarios.SCENARIOS, new ones join by being in the dict) on the simulated
platform, diagnosed by the real engine and checks: the injected cause is the strictly top root cause (no other
root cause ties with or outranks it) and explains exactly the scenario's ``explains``; a world with no fault,
and one holding only the history of a resolved incident, has no root cause at all.

Each scenario's run comes from the session's ``scenario_runs`` (support.demo.ScenarioRuns): built once on the
shared servers (redis-server, a MariaDB writer and its read-only twin) and read by every table that needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from doctor.model import CauseState, Report
from doctor.sim.scenarios import SCENARIOS, runner_up, verdict

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("scenario_runs")]  # one worker builds the worlds once

NO_FAULT = ("healthy", "resolved-history")  # the worlds that must have no root cause (the ones that exist)


@pytest.fixture
def diagnosed(scenario_runs: Any) -> Callable[[str], Report]:
    """name -> the report of that scenario's run."""
    return lambda name: scenario_runs(name).report


def _explain(report: Report) -> str:
    lines = [f"{c.id}: {c.status.value} {c.summary} {[f.signals for f in c.findings if f.signals]}"
             for c in report.checks]
    lines += [f"ROOT {r.playbook}/{r.cause}: {r.state.value} {r.score} on {r.scope.queues or 'platform'} explains "
              f"{[(e.cause, e.state.value, e.score) for e in r.explains]}" for r in report.diagnosis.root_causes]
    lines += [f"{p.id}/{c.id}: {c.state.value} {c.score} {c.reason}" for p in report.playbooks for c in p.causes
              if c.state in (CauseState.confirmed, CauseState.likely, CauseState.possible)]
    return "\n".join(lines)


FAULTS = [name for name, s in SCENARIOS.items() if s.cause]


@pytest.mark.parametrize("name", FAULTS)
def test_the_injected_cause_is_the_strictly_top_root_cause(diagnosed: Callable[[str], Report], name: str) -> None:
    scenario = SCENARIOS[name]
    report = diagnosed(name)
    why = _explain(report)
    roots = report.diagnosis.root_causes
    assert roots, why
    top = roots[0]
    assert (top.playbook, top.cause) == (scenario.playbook, scenario.cause), why
    assert top.state in (CauseState.confirmed, CauseState.likely), why
    if len(roots) > 1:  # another root cause may be present, but strictly weaker
        second = roots[1]
        assert second.state != top.state or second.score < top.score, why
    assert sorted(e.cause for e in top.explains) == sorted(scenario.explains), why
    assert top.evidence and top.next_steps, why
    # verdict() (what `ame-doctor demo` prints) agrees, and names the runner-up when there is one
    ok, line = verdict(scenario, report)
    assert ok, f"{line}\n{why}"
    runner = runner_up(report)
    if runner:
        assert f"runner-up {runner[0]}" in line


@pytest.mark.parametrize("name", [n for n in NO_FAULT if n in SCENARIOS])
def test_no_fault_no_root_cause(diagnosed: Callable[[str], Report], name: str) -> None:
    report = diagnosed(name)
    assert report.diagnosis.root_causes == [], _explain(report)
    assert verdict(SCENARIOS[name], report) == (True, "no root cause")
    assert report.exit_code == 0, _explain(report)
