"""Every demo scenario (doctor.sim.scenarios.SCENARIOS, new ones join by being in the dict) on the simulated
platform, diagnosed by the real engine and checks: the injected cause is the strictly top root cause (no other
root cause ties with or outranks it) and explains exactly the scenario's ``explains``; a world with no fault,
and one holding only the history of a resolved incident, has no root cause at all.

The servers (redis-server, a MariaDB writer and its read-only twin) are shared by the whole module; each
scenario gets a fresh simulated platform (moto, DNS, probe) on them, and runs once however many tests read it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from doctor.model import CauseState, Report
from doctor.sim.scenarios import SCENARIOS, runner_up, start, verdict

pytestmark = pytest.mark.slow

NO_FAULT = ("healthy", "resolved-history")  # the worlds that must have no root cause (the ones that exist)


def _run(platform: Any) -> Report:
    from doctor.config import Config
    from doctor.engine import Engine, EngineOptions
    from doctor.registry import all_checks

    config = Config.model_validate(platform.config())
    return asyncio.run(Engine(config, all_checks(), EngineOptions(skip=list(platform.skip))).run())


@pytest.fixture(scope="module")
def diagnosed(redis_server: Any, mariadb_pair: Any, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Callable[[str], Report]]:
    """name -> the report of that scenario's run (each scenario runs once per module, on the shared servers)."""
    writer, reader = mariadb_pair
    reports: dict[str, Report] = {}

    def run(name: str) -> Report:
        if name not in reports:
            for db in range(16):
                redis_server.client(db).flushdb()
            writer.execute_root([f"DELETE FROM `{writer.database}`.failed_jobs"])
            password = writer.password
            platform = start(SCENARIOS[name], workdir=Path(tmp_path_factory.mktemp(name)), redis=redis_server,
                             db=writer, reader=reader)
            try:
                reports[name] = _run(platform)
            finally:
                platform.stop()
                if writer.password != password:  # stale-ssm-values rotated the shared server's password
                    writer.execute_root([f"ALTER USER '{writer.user}'@'%' IDENTIFIED BY '{password}'",
                                         f"ALTER USER '{writer.user}'@'localhost' IDENTIFIED BY '{password}'"])
                    writer.password = password
        return reports[name]

    yield run


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
