"""The interactive doctor: a thin Textual client of the engine's event stream.

Everything shown comes from engine events or a saved report (already redacted by the engine);
the UI decides nothing about checks. ``source=None`` is the read-only ``view`` mode.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Container, VerticalScroll
from textual.screen import Screen
from textual.widgets import ContentSwitcher, DataTable, Footer, Static, Tree

from doctor.events import Event, RunFinished
from doctor.model import EXIT_INTERRUPTED, EXIT_OK, Report
from doctor.tui.source import EventSource
from doctor.tui.state import FILTERS, RUNNING, Row, RunState
from doctor.tui.widgets import (
    DIAGNOSIS_KEYS,
    SPINNER,
    HelpScreen,
    clip,
    detail_text,
    fill_diagnosis,
    fmt_ms,
    show_findings,
    status_cell,
    summary,
)

VIEWS = ("checks", "diagnosis")


class DoctorApp(App[int]):
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
        super().__init__()
        self.source = source
        self.spinner = spinner
        self.export_dir = export_dir or Path.cwd()
        self.clock = clock
        self.autostart = autostart
        self.state = RunState(clock)
        self.filter = "all"
        self.view = "checks"
        self.selected: str | None = None
        self.marked: str | None = None  # finding uid jumped to from the diagnosis
        self.exported: list[Path] = []
        self.copied: list[str] = []
        self._frame = 0
        if report is not None:
            self.state.load_report(report, metas)

    def notify(self, message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Messages carry report text (commands, paths): never interpret them as Textual markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    @property
    def read_only(self) -> bool:
        return self.source is None

    # --- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="header", markup=False)
        with ContentSwitcher(initial="checks-view", id="views"):
            with Container(id="checks-view"):
                yield DataTable(id="checks", cursor_type="row", zebra_stripes=False)
                with VerticalScroll(id="detail"):
                    yield Static(id="detail-head", markup=False)
            with Container(id="diagnosis-view"):
                yield Tree("Diagnosis", id="diagnosis")
                yield Static(id="diagnosis-detail", markup=False)
        yield Footer(show_command_palette=False)  # ctrl+p still opens it (see the help)

    def on_mount(self) -> None:
        table = self.query_one("#checks", DataTable)
        table.add_column("status", key="status", width=11)
        table.add_column("check", key="check", width=13)
        table.add_column("time", key="time", width=6)
        table.add_column("summary", key="summary")
        tree = self.query_one("#diagnosis", Tree)
        tree.show_root = False
        self.refresh_all()
        table.focus()
        if self.spinner:
            self.set_interval(0.1, self._tick)
        if self.source is not None and self.autostart:
            self.start_run()

    def on_resize(self) -> None:
        self.screen.set_class(self.size.width >= 140, "wide")
        self.call_after_refresh(self.refresh_table)  # once the new layout has sized the table

    # --- running -----------------------------------------------------------------------------
    def start_run(self, only: Sequence[str] | None = None) -> None:
        if self.source is None:
            self.notify("read-only: this is a saved report; rerun is disabled", severity="warning")
            return
        self.state.begin(only)
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

    # --- rendering ---------------------------------------------------------------------------
    def refresh_all(self) -> None:
        self.refresh_header()
        self.refresh_table()
        self.refresh_detail()
        self.refresh_diagnosis()

    def refresh_header(self) -> None:
        t = self.state.target
        text = Text()
        if t is None:
            text.append("ame-doctor", style="bold")
        else:  # fits 80 columns with the default cluster name
            text.append("cluster ", style="bold").append(t.cluster)
            text.append("  region ", style="bold").append(t.region or "?")
            text.append("  acct ", style="bold").append(t.account or "?")
        text.append("\n")
        text.append(self.state.run_state_text(), style="bold")
        text.append(f"   view: {self.view}   filter: {self.filter}")
        self.query_one("#header", Static).update(text)

    def _status_cell(self, row: Row) -> Text:
        return status_cell(row, SPINNER[self._frame % len(SPINNER)] if self.spinner else "…")

    def _time_cell(self, row: Row) -> str:
        if row.status == RUNNING and self.spinner and row.started is not None:
            return f"{self.clock() - row.started:.1f}s"
        return fmt_ms(row.duration_ms)

    def refresh_table(self) -> None:
        try:
            table = self.query_one("#checks", DataTable)
        except Exception:
            return
        if not table.columns:
            return
        rows = self.state.visible(self.filter)
        keep = self.selected
        width = max(20, table.size.width - 11 - 13 - 6 - 8) if table.size.width else 40
        ids = [r.id for r in rows]
        cells = [(self._status_cell(r), r.id, self._time_cell(r), Text(clip(summary(r), width))) for r in rows]
        if [k.value for k in table.rows] == ids:  # same rows: update in place (no flicker, cursor kept)
            for cid, (status, _, took, text) in zip(ids, cells, strict=True):
                table.update_cell(cid, "status", status)
                table.update_cell(cid, "time", took)
                table.update_cell(cid, "summary", text, update_width=True)
        else:
            table.clear()
            for cid, cell in zip(ids, cells, strict=True):
                table.add_row(*cell, key=cid)
        if keep in ids:
            table.move_cursor(row=ids.index(keep), animate=False, scroll=True)
        elif ids:
            table.move_cursor(row=0, animate=False)
            self.selected = ids[0]
        else:
            self.selected = None

    def refresh_detail(self) -> None:
        try:
            pane = self.query_one("#detail", VerticalScroll)
            head = self.query_one("#detail-head", Static)
        except Exception:
            return
        row = self.state.rows.get(self.selected or "")
        if row is None:
            show_findings(pane, [], self.marked)
            head.update("no check selected" if self.state.rows else "waiting for the run to start…")
            return
        head.update(detail_text(row))
        marked = show_findings(pane, row.findings, self.marked)
        if marked is not None:
            self.call_after_refresh(pane.scroll_to_widget, marked, animate=False, top=True)

    def shown_findings(self) -> list[Static]:
        """The finding widgets currently shown in the detail pane (for tests and scrolling)."""
        return [w for w in self.query(".finding").results(Static) if w.display]

    def refresh_diagnosis(self) -> None:
        try:
            tree = self.query_one("#diagnosis", Tree)
            hint = self.query_one("#diagnosis-detail", Static)
        except Exception:
            return
        tree.clear()
        report = self.state.report
        if report is None or not report.playbooks:
            hint.update("The diagnosis appears when the run finishes." if report is None
                        else "No playbooks in this report.")
            return
        hint.update(DIAGNOSIS_KEYS)
        fill_diagnosis(tree, report, self.state.finding)

    # --- events from widgets -------------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#checks")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row != event.data_table.cursor_row:
            return  # stale: the table was refreshed since (programmatic cursor moves)
        key = event.row_key.value if event.row_key is not None else None
        if key != self.selected:
            self.selected = key
            self.marked = None
            self.refresh_detail()

    @on(Tree.NodeHighlighted, "#diagnosis")
    def _node_highlighted(self, event: Tree.NodeHighlighted[Any]) -> None:
        data = event.node.data or {}
        self.query_one("#diagnosis-detail", Static).update(data.get("full") or DIAGNOSIS_KEYS)

    @on(Tree.NodeSelected, "#diagnosis")
    def _node_selected(self, event: Tree.NodeSelected[Any]) -> None:
        data = event.node.data or {}
        if data.get("kind") == "finding":
            self.jump_to_finding(data["uid"])
        elif data.get("kind") == "cmd":
            self.copy_text(data["text"])

    def jump_to_finding(self, uid: str) -> None:
        hit = self.state.finding(uid)
        if hit is None:
            self.notify(f"finding {uid} is not in this report", severity="warning")
            return
        row, _ = hit
        self.filter = "all"
        self.selected = row.id
        self.marked = uid
        self.set_view("checks")
        self.refresh_table()
        self.refresh_detail()
        self.query_one("#detail", VerticalScroll).focus()

    def copy_text(self, text: str) -> None:
        self.copied.append(text)
        self.copy_to_clipboard(text)
        self.notify(f"copied: {text}", title="clipboard")

    def set_view(self, view: str) -> None:
        self.view = view
        self.query_one("#views", ContentSwitcher).current = f"{view}-view"
        target = "#checks" if view == "checks" else "#diagnosis"
        self.query_one(target).focus()
        self.refresh_header()

    # --- actions -----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("rerun_all", "rerun_check") and self.read_only:
            return None  # shown greyed out: a saved report cannot be rerun
        return not (action == "copy_step" and self.view != "diagnosis")

    def action_rerun_all(self) -> None:
        self.start_run()

    def highlighted_check(self) -> str | None:
        """The check under the table cursor now (not waiting for the highlight message)."""
        table = self.query_one("#checks", DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return self.selected
        return key if key in self.state.rows else self.selected

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

    def set_filter(self, flt: str) -> None:
        self.filter = flt
        self.refresh_table()
        self.refresh_detail()
        self.refresh_header()

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
        from doctor.outputs import write_file
        from doctor.render import available_formats, render

        report = self.state.report
        if report is None:
            self.notify("nothing to export yet: the run has not finished", severity="warning")
            return
        if fmt not in available_formats():
            self.notify(f"{fmt} export is unavailable: its renderer is not installed in this build",
                        severity="error")
            return
        ext = {"json": "json", "markdown": "md"}[fmt]
        path = self.export_dir / f"ame-doctor-{report.run.id}.{ext}"
        try:
            write_file(path, render(report, fmt))
        except OSError as e:
            self.notify(f"export failed: {e}", severity="error")
            return
        self.exported.append(path)
        self.notify(f"wrote {fmt} report to {path}", title="exported")

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
        yield SystemCommand("View: diagnosis", "Playbooks with causes ranked", lambda: self.set_view("diagnosis"))
        yield SystemCommand("Export JSON", "Write the report as JSON", lambda: self.action_export("json"))
        yield SystemCommand("Export Markdown", "Write the report as Markdown", lambda: self.action_export("markdown"))
        yield SystemCommand("Help", "Keys and views", self.action_help)

    # --- outcome -------------------------------------------------------------------------------
    def exit_code(self) -> int:
        if self.read_only:
            return EXIT_OK
        report = self.state.report
        return report.exit_code if report is not None else EXIT_INTERRUPTED

