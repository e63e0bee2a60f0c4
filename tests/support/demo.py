"""Running a demo scenario's simulated production in-process, as `ame-doctor demo` does, for the tests; and each
scenario's run shared by every test that reads it (:class:`ScenarioRuns`, the ``scenario_runs`` fixture)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any


def run_platform(platform: Any, timeline: bool = False) -> Any:
    """The report of every registered check against a started :class:`doctor.sim.platform.SimPlatform`
    (``timeline``: with the run's timeline attached, as the CLI does)."""
    from doctor.config import Config
    from doctor.engine import Engine, EngineOptions
    from doctor.registry import all_checks

    config = Config.model_validate(platform.config())
    options = EngineOptions(skip=list(platform.skip), timeline=timeline)
    return asyncio.run(Engine(config, all_checks(), options).run())


def explain(report: Any) -> str:
    """Each check's status and signals, then the supported causes: the message of a failed assertion."""
    lines = [f"{c.id}: {c.status.value} {c.summary} {[f.signals for f in c.findings]}" for c in report.checks]
    lines += [f"{p.id}/{c.id}: {c.state.value} {c.score} {c.reason}" for p in report.playbooks for c in p.causes
              if c.state.value in ("confirmed", "likely", "possible")]
    return "\n".join(lines)


@dataclass(frozen=True)
class ScenarioRun:
    report: Any  # doctor.model.Report, with the timeline
    world: Any   # doctor.sim.world.World: the simulated account's names the run saw


class ScenarioRuns:
    """Each demo scenario built and diagnosed once per test session, on the shared redis-server and MariaDB
    writer and reader (every world starts from empty Redis DBs and an empty failed_jobs), with the timeline as
    the CLI runs it. Every test that needs a scenario's report (the root-cause table, the demo's outputs, the
    timeline table, the evidence cases) reads the same run: the slowest part of the suite is paid once."""

    def __init__(self, redis: Any, writer: Any, reader: Any, workdirs: Any) -> None:
        self.redis, self.writer, self.reader, self.workdirs = redis, writer, reader, workdirs
        self._runs: dict[str, ScenarioRun | BaseException] = {}

    def __call__(self, name: str) -> ScenarioRun:
        if name not in self._runs:
            try:
                self._runs[name] = self._run(name)
            except Exception as e:  # every reader of this scenario sees the same failure
                self._runs[name] = e
        run = self._runs[name]
        if isinstance(run, BaseException):
            raise run
        return run

    def _run(self, name: str) -> ScenarioRun:
        from doctor.sim.scenarios import SCENARIOS, start

        for db in range(16):
            self.redis.client(db).flushdb()
        writer = self.writer
        writer.execute_root([f"DELETE FROM `{writer.database}`.failed_jobs"])
        password = writer.password
        platform = start(SCENARIOS[name], workdir=self.workdirs.mktemp(name), redis=self.redis, db=writer,
                         reader=self.reader)
        try:
            return ScenarioRun(run_platform(platform, timeline=True), platform.w)
        finally:
            platform.stop()
            if writer.password != password:  # stale-ssm-values rotated the shared server's password
                writer.execute_root([f"ALTER USER '{writer.user}'@'%' IDENTIFIED BY '{password}'",
                                     f"ALTER USER '{writer.user}'@'localhost' IDENTIFIED BY '{password}'"])
                writer.password = password
