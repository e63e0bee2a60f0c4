"""The interactive doctor: a thin Textual client of the engine's event stream.

Everything shown comes from engine events or a saved report (already redacted by the engine);
the UI decides nothing about checks. ``source=None`` is the read-only ``view`` mode. What is on
screen and how the state is drawn: ``DoctorPanes`` (panes.py); here: the run, the keys, the
command palette, the exit code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Tree

from doctor import render as renderers
from doctor.events import Event, RunFinished
from doctor.model import EXIT_INTERRUPTED, EXIT_OK, Report
from doctor.outputs import write_file
from doctor.tui.panes import DoctorPanes
from doctor.tui.source import EventSource
from doctor.tui.state import FILTERS, RUNNING
from doctor.tui.timeline_pane import open_timeline
from doctor.tui.widgets import HelpScreen

VIEWS = ("checks", "diagnosis")


class DoctorApp(DoctorPanes):
    """Checks pane + detail pane, diagnosis view, header with target and run state."""

    TITLE = "ame-doctor"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "rerun_all", "Rerun all"),
        Binding("c", "rerun_check", "Rerun check"),
        Binding("f", "cycle_filter", "Filter"),
        Binding("v", "switch_view", "View"),
        Binding("j", "export('json')", "JSON"),
        Binding("m", "export('markdown')", "MD"),
        Binding("y", "copy_step", "Copy", show=False),
        Binding("t", "timeline", "Timeline", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        source: EventSource | None = None,
        report: Report | None = None,
        *,
        metas: Iterable[object] = (),
        spinner: bool = True,
        export_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        autostart: bool = True,
    ) -> None:
        super().__init__(spinner=spinner, clock=clock)
        self.source = source
        self.export_dir = export_dir or Path.cwd()
        self.autostart = autostart
        self.exported: list[Path] = []
        if report is not None:
            self.state.load_report(report, metas)

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Messages carry report text (commands, paths): never interpret them as Textual markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    @property
    def read_only(self) -> bool:
        return self.source is None

    def on_mount(self) -> None:
        self.setup_panes()
        if self.spinner:
            self.set_interval(0.1, self._tick)
        if self.source is not None and self.autostart:
            self.start_run()
        else:
            self.open_on_diagnosis()

    # --- running ----------------------------------------------------------------------------------------
    def start_run(self, only: Sequence[str] | None = None) -> None:
        if self.source is None:
            self.notify("read-only: this is a saved report; rerun is disabled", severity="warning")
            return
        self.state.begin(only)
        if not only:
            self.view_chosen = False
        self.refresh_all()
        self.run_worker(self._consume(list(only) if only else None), exclusive=True, group="run",
                        exit_on_error=False)

    async def _consume(self, only: list[str] | None) -> None:
        assert self.source is not None
        base = self.state.report
        try:
            async for event in self.source.events(only):
                self.apply_event(event, base)
        except Exception as e:  # the engine itself failed: say so, keep the UI alive
            self.state.phase = "failed"
            self.state.error = f"{type(e).__name__}: {e}"
            self.refresh_all()
            return
        if self.state.phase == "running":  # the stream ended without RunFinished
            self.state.phase = "failed"
            self.state.error = "the run ended without a report"
            self.refresh_all()

    def apply_event(self, event: Event, base: Report | None = None) -> None:
        changed = self.state.apply(event)
        if isinstance(event, RunFinished):
            partial = self.state.partial
            report = event.report
            if partial and base is not None and self.source is not None:
                report = self.source.merge(base, report)
            self.state.finish(report)
            self.refresh_all()
            if not partial:
                self.open_on_diagnosis()
            self.notify(f"run finished: {report.status.value} (exit {report.exit_code})")
            return
        if changed is None:
            self.refresh_all()
            return
        self.refresh_table()
        self.refresh_header()
        if changed == self.selected:
            self.refresh_detail()

    def _tick(self) -> None:
        self._frame += 1
        if self.state.phase != "running":
            return
        table = self.query_one("#checks", DataTable)
        for row in self.state.rows.values():
            if row.status == RUNNING and row.id in table.rows:
                table.update_cell(row.id, "status", self._status_cell(row))
                table.update_cell(row.id, "time", self._time_cell(row))

    # --- keys and commands ------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("rerun_all", "rerun_check") and self.read_only:
            return None  # shown greyed out: a saved report cannot be rerun
        return not (action == "copy_step" and self.view != "diagnosis")

    def action_rerun_all(self) -> None:
        self.start_run()

    def action_rerun_check(self) -> None:
        current = self.highlighted_check()
        if current != self.selected:  # keys typed ahead of the highlight message
            self.selected, self.marked = current, None
            self.refresh_detail()
        if self.selected is None:
            self.notify("no check highlighted", severity="warning")
            return
        if self.state.phase == "running":
            self.notify("a run is in progress: wait for it, or press r to restart every check", severity="warning")
            return
        if self.state.report is None:  # nothing to merge into yet: rerun everything
            self.start_run()
            return
        self.start_run([self.selected])

    def action_cycle_filter(self) -> None:
        self.set_filter(FILTERS[(FILTERS.index(self.filter) + 1) % len(FILTERS)])

    def action_switch_view(self) -> None:
        self.set_view(VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)])

    def action_copy_step(self) -> None:
        node = self.query_one("#diagnosis", Tree).cursor_node
        data = (node.data if node is not None else None) or {}
        if data.get("kind") == "cmd":
            self.copy_text(data["text"])
        else:
            self.notify("highlight a next-step command ($ …) to copy it", severity="warning")

    def action_export(self, fmt: str) -> None:
        report = self.state.report
        if report is None:
            self.notify("nothing to export yet: the run has not finished", severity="warning")
            return
        if fmt not in renderers.available_formats():
            self.notify(f"{fmt} export is unavailable: its renderer is not installed in this build",
                        severity="error")
            return
        ext = {"json": "json", "markdown": "md"}[fmt]
        path = self.export_dir / f"ame-doctor-{report.run.id}.{ext}"
        try:
            write_file(path, renderers.render(report, fmt))
        except OSError as e:
            self.notify(f"export failed: {e}", severity="error")
            return
        self.exported.append(path)
        self.notify(f"wrote {fmt} report to {path}", title="exported")

    def action_timeline(self) -> None:
        open_timeline(self)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not self.read_only:
            yield SystemCommand("Rerun all checks", "Run every check again", self.action_rerun_all)
            yield SystemCommand("Rerun selected check", "Run the highlighted check again", self.action_rerun_check)
        for flt in FILTERS:
            yield SystemCommand(f"Filter: {flt}", f"Show {flt} checks", lambda f=flt: self.set_filter(f))
        yield SystemCommand("View: checks", "Checks and their findings", lambda: self.set_view("checks"))
        yield SystemCommand("View: diagnosis", "Root causes first, then playbooks with causes ranked",
                            lambda: self.set_view("diagnosis"))
        yield SystemCommand("Export JSON", "Write the report as JSON", lambda: self.action_export("json"))
        yield SystemCommand("Export Markdown", "Write the report as Markdown", lambda: self.action_export("markdown"))
        yield SystemCommand("Timeline", "What changed before it broke", self.action_timeline)
        yield SystemCommand("Help", "Keys and views", self.action_help)

    # --- outcome ----------------------------------------------------------------------------------------
    def exit_code(self) -> int:
        if self.read_only:
            return EXIT_OK
        report = self.state.report
        return report.exit_code if report is not None else EXIT_INTERRUPTED
