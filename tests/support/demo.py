"""Running a demo scenario's simulated production in-process, as `ame-doctor demo` does, for the tests."""

from __future__ import annotations

import asyncio
from typing import Any


def run_platform(platform: Any) -> Any:
    """The report of every registered check against a started :class:`doctor.sim.platform.SimPlatform`."""
    from doctor.config import Config
    from doctor.engine import Engine, EngineOptions
    from doctor.registry import all_checks

    config = Config.model_validate(platform.config())
    return asyncio.run(Engine(config, all_checks(), EngineOptions(skip=list(platform.skip))).run())


def explain(report: Any) -> str:
    """Each check's status and signals, then the supported causes: the message of a failed assertion."""
    lines = [f"{c.id}: {c.status.value} {c.summary} {[f.signals for f in c.findings]}" for c in report.checks]
    lines += [f"{p.id}/{c.id}: {c.state.value} {c.score} {c.reason}" for p in report.playbooks for c in p.causes
              if c.state.value in ("confirmed", "likely", "possible")]
    return "\n".join(lines)
