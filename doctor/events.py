"""The run as a stream of events: what the engine emits and renderers and the TUI consume."""

from __future__ import annotations

from dataclasses import dataclass

from doctor.checkapi import CheckMeta
from doctor.model import CheckResult, Finding, Report, Target


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    target: Target
    checks: list[CheckMeta]


@dataclass(frozen=True)
class CheckStarted:
    check_id: str


@dataclass(frozen=True)
class FindingEmitted:
    check_id: str
    finding: Finding


@dataclass(frozen=True)
class CheckFinished:
    result: CheckResult


@dataclass(frozen=True)
class RunFinished:
    report: Report


Event = RunStarted | CheckStarted | FindingEmitted | CheckFinished | RunFinished
