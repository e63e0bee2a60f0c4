"""The doctor's screen: header, checks table + detail pane, diagnosis tree, and how the run state is
shown in them. ``DoctorApp`` (app.py) adds the run, the keys and the commands; this class only shows
``self.state`` and moves between the panes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.containers import Container, VerticalScroll
from textual.widgets import ContentSwitcher, DataTable, Footer, Static, Tree

from doctor.tui.state import RUNNING, Row, RunState
from doctor.tui.widgets import (
    DIAGNOSIS_KEYS,
    SPINNER,
    clip,
    detail_text,
    fill_diagnosis,
    fmt_ms,
    root_cause_banner,
    show_findings,
    status_cell,
    summary,
)

CHECK_WIDTH = 17  # the longest built-in check id (scaler.controller)


class DoctorPanes(App[int]):
    """What is on screen for ``self.state``: the selected check, the filter, the view (checks/diagnosis)."""

    def __init__(self, *, spinner: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.spinner = spinner
        self.clock = clock
        self.state = RunState(clock)
        self.filter = "all"
        self.view = "checks"
        self.view_chosen = False  # the user picked a view during this run: a finished run does not move it
        self.selected: str | None = None
        self.marked: str | None = None  # finding uid jumped to from the diagnosis
        self.copied: list[str] = []
        self._frame = 0

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

    def setup_panes(self) -> None:
        """The table's columns and the tree's root (on mount), filled from the state; focus on the table."""
        table = self.query_one("#checks", DataTable)
        table.add_column("status", key="status", width=11)
        table.add_column("check", key="check", width=CHECK_WIDTH)
        table.add_column("time", key="time", width=6)
        table.add_column("summary", key="summary")
        tree = self.query_one("#diagnosis", Tree)
        tree.show_root = False
        self.refresh_all()
        table.focus()

    def on_resize(self) -> None:
        self.screen.set_class(self.size.width >= 140, "wide")
        self.refresh_header()  # the root-cause line is clipped to the width
        self.call_after_refresh(self.refresh_table)  # once the new layout has sized the table

    # --- rendering --------------------------------------------------------------------------------------
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
        report = self.state.report  # the checks view names the root cause (the diagnosis view shows it first)
        if (report is not None and self.view == "checks" and self.state.phase in ("finished", "view")
                and report.diagnosis.root_causes):
            text.append("\n").append_text(root_cause_banner(report, max(20, self.size.width - 2)))
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
        room = table.size.width or self.size.width  # a hidden table (the diagnosis view) has no size yet
        width = max(20, room - 11 - CHECK_WIDTH - 6 - 8)
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
        if report is None or not (report.playbooks or report.diagnosis.root_causes):
            hint.update("The diagnosis appears when the run finishes." if report is None
                        else "No playbooks in this report.")
            return
        fill_diagnosis(tree, report, self.state.finding)
        first = tree.root.children[0].data if tree.root.children else None
        hint.update((first or {}).get("full") or DIAGNOSIS_KEYS)  # the cursor starts on it

    # --- moving between the panes -----------------------------------------------------------------------
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
        data = event.node.data
        if data is None:
            return  # a hidden root (highlighted while the tree is refilled): keep what refresh_diagnosis shows
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

    def open_on_diagnosis(self) -> None:
        """A report with a root cause opens on the diagnosis view, unless the user picked a view meanwhile."""
        report = self.state.report
        if report is not None and report.diagnosis.root_causes and not self.view_chosen:
            self.set_view("diagnosis", by_user=False)

    def set_view(self, view: str, *, by_user: bool = True) -> None:
        self.view_chosen = self.view_chosen or by_user
        self.view = view
        self.query_one("#views", ContentSwitcher).current = f"{view}-view"
        target = "#checks" if view == "checks" else "#diagnosis"
        self.query_one(target).focus()
        if view == "checks":
            self.call_after_refresh(self.refresh_table)  # summaries clipped to the table's laid-out width
        self.refresh_header()

    def set_filter(self, flt: str) -> None:
        self.filter = flt
        self.refresh_table()
        self.refresh_detail()
        self.refresh_header()

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
