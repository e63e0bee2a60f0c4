"""The TUI's view model: what the screen shows, folded from engine events or a saved report.

No Textual and no check logic: statuses, summaries, findings and verdicts are copied from the
events/report as the engine produced them (already redacted).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from doctor.events import CheckFinished, CheckStarted, Event, FindingEmitted, RunFinished, RunStarted
from doctor.model import CheckResult, CheckStatus, Finding, Report, Target

PENDING = "pending"
RUNNING = "running"
PROBLEMS = (CheckStatus.fail.value, CheckStatus.warn.value, CheckStatus.error.value, CheckStatus.unknown.value)
FILTERS = ("all", "problems", "fail", "warn", "error", "unknown", "skipped", "pass")

# Words first: the screen stays readable without colour (NO_COLOR, monochrome terminals).
STATUS_LABEL = {
    PENDING: "· PENDING", RUNNING: "RUNNING", "pass": "✓ PASS", "warn": "! WARN", "fail": "✗ FAIL",
    "error": "‼ ERROR", "unknown": "? UNKNOWN", "skipped": "- SKIP",
}
STATUS_STYLE = {
    PENDING: "dim", RUNNING: "bold cyan", "pass": "green", "warn": "yellow", "fail": "bold red",
    "error": "bold magenta", "unknown": "blue", "skipped": "dim",
}
SEVERITY_STYLE = {"info": "green", "warning": "yellow", "error": "bold red", "critical": "bold white on red"}


@dataclass
class Row:
    id: str
    title: str
    order: int
    why: str = ""
    proves: str = ""
    status: str = PENDING
    duration_ms: int | None = None
    summary: str = ""
    findings: list[Finding] = field(default_factory=list)
    unlock: str | None = None
    started: float | None = None

    def matches(self, flt: str) -> bool:
        if flt == "all":
            return True
        if flt == "problems":
            return self.status in PROBLEMS
        return self.status == flt


class RunState:
    """Rows in incident-priority order plus the run's phase, target and final report."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.rows: dict[str, Row] = {}
        self.phase = "idle"  # idle | running | finished | failed | view
        self.error = ""
        self.target: Target | None = None
        self.report: Report | None = None
        self.partial: list[str] | None = None

    # --- building --------------------------------------------------------------------------
    def begin(self, only: Sequence[str] | None = None) -> None:
        self.phase = "running"
        self.error = ""
        self.partial = list(only) if only else None
        for cid in only or list(self.rows):
            row = self.rows.get(cid)
            if row is not None:
                self._reset(row)

    @staticmethod
    def _reset(row: Row) -> None:
        row.status, row.duration_ms, row.summary, row.findings, row.unlock, row.started = PENDING, None, "", [], None, None

    def apply(self, event: Event) -> str | None:
        """Fold one event in; returns the check id it concerned, if any."""
        if isinstance(event, RunStarted):
            if self.partial is None:
                self.rows = {}
            self.target = event.target if self.partial is None or self.target is None else self.target
            for meta in sorted(event.checks, key=lambda m: (m.order, m.id)):
                row = self.rows.get(meta.id)
                if row is None:
                    self.rows[meta.id] = Row(meta.id, meta.title, meta.order, meta.why, meta.proves)
                else:
                    self._reset(row)
            self.rows = dict(sorted(self.rows.items(), key=lambda kv: (kv[1].order, kv[0])))
            return None
        if isinstance(event, CheckStarted):
            row = self.rows.get(event.check_id)
            if row is not None:
                row.status, row.started = RUNNING, self.clock()
            return event.check_id
        if isinstance(event, FindingEmitted):
            row = self.rows.get(event.check_id)
            if row is not None:
                row.findings.append(event.finding)
            return event.check_id
        if isinstance(event, CheckFinished):
            self._take(event.result)
            return event.result.id
        if isinstance(event, RunFinished):
            for c in event.report.checks:
                self._take(c)
            return None
        return None

    def finish(self, report: Report) -> None:
        self.report = report
        self.target = report.target
        self.phase = "finished"
        self.partial = None

    def _take(self, result: CheckResult) -> None:
        row = self.rows.get(result.id)
        if row is None:
            row = self.rows[result.id] = Row(result.id, result.title, result.order)
        row.status = result.status.value
        row.duration_ms = result.duration_ms
        row.summary = result.summary
        row.findings = list(result.findings)
        row.unlock = result.unlock

    def load_report(self, report: Report, metas: Iterable[object] = ()) -> None:
        """A saved report (``ame-doctor view``): rows straight from it, read-only."""
        why = {getattr(m, "id", ""): m for m in metas}
        self.rows = {}
        for c in sorted(report.checks, key=lambda c: (c.order, c.id)):
            meta = why.get(c.id)
            row = Row(c.id, c.title, c.order, getattr(meta, "why", ""), getattr(meta, "proves", ""))
            self.rows[c.id] = row
            self._take(c)
        self.report = report
        self.target = report.target
        self.phase = "view"

    # --- reading ---------------------------------------------------------------------------
    def visible(self, flt: str) -> list[Row]:
        return [r for r in self.rows.values() if r.matches(flt)]

    def done(self) -> int:
        return sum(1 for r in self.rows.values() if r.status not in (PENDING, RUNNING))

    def finding(self, uid: str) -> tuple[Row, Finding] | None:
        for row in self.rows.values():
            for f in row.findings:
                if f.uid == uid:
                    return row, f
        return None

    def run_state_text(self) -> str:
        total = len(self.rows)
        if self.phase == "running":
            what = f"rerunning {', '.join(self.partial)}" if self.partial else "RUNNING"
            return f"{what} {self.done()}/{total} done"
        if self.phase == "failed":
            return f"RUN FAILED: {self.error}"
        if self.report is None:
            return "IDLE"
        status = self.report.status.value.upper()
        interrupted = " (interrupted)" if self.report.run.interrupted else ""
        if self.phase == "view":
            return f"SAVED REPORT (read-only): {status}{interrupted}"
        return f"FINISHED: {status}{interrupted}, exit {self.report.exit_code}"
