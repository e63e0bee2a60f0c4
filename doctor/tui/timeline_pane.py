"""The timeline pane (``t``, or "Timeline" in the command palette): the changes tied to each root cause, then
every change and symptom oldest first; ``enter`` on one that shows up in a finding closes the pane and
jumps to that finding in the checks view. Shows the report's ``timeline``; decides nothing."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from doctor.model import Report, Timeline, TimelineEvent, TimelineKind
from doctor.render.timeline import event_line, links_of, missing_sources, ran

KEYS = "enter: jump to the finding   escape / t: close"
STYLE = {TimelineKind.change: "bold yellow", TimelineKind.symptom: "red", TimelineKind.info: "dim"}


def event_detail(tl: Timeline, e: TimelineEvent) -> str:
    """Everything about one event, for the line under the list."""
    parts = [event_line(e)]
    parts += [f"tied to {link.playbook}/{link.cause}: {link.text}" for link in tl.links if link.change == e.id]
    if e.resources:
        parts.append("resources: " + ", ".join(e.resources))
    parts.append(f"finding: {e.finding} (enter jumps to it)" if e.finding else "no finding shows this event")
    return "\n".join(parts)


class TimelineScreen(ModalScreen[str | None]):
    """Dismissed with the uid of the finding to jump to, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"), Binding("t", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]
    DEFAULT_CSS = """
    TimelineScreen { align: center middle; }
    #timeline-box { width: 100%; height: 100%; border: round $primary; background: $surface; padding: 0 1; }
    #timeline-head { height: auto; max-height: 10; }
    #timeline-events { height: 1fr; }
    #timeline-detail { height: auto; max-height: 7; border-top: solid $primary; }
    """

    def __init__(self, report: Report) -> None:
        super().__init__()
        self.report = report
        self.events = list(report.timeline.events)

    def compose(self) -> ComposeResult:
        with Vertical(id="timeline-box"):
            yield Static(self._head(), id="timeline-head", markup=False)
            yield OptionList(*[Option(Text(event_line(e), style=STYLE[e.kind]), id=e.id) for e in self.events],
                             id="timeline-events")
            yield Static(KEYS, id="timeline-detail", markup=False)

    def _head(self) -> Text:
        tl = self.report.timeline
        text = Text("What changed", style="bold")
        if not ran(tl):
            return text.append(": this report has no timeline (a run without it, or an older report)")
        text.append(f" since {tl.since} — nearest change first per root cause\n")
        for rc in self.report.diagnosis.root_causes:
            links = links_of(tl, rc)
            text.append(f"{rc.playbook}/{rc.cause}: ", style="bold")
            text.append((links[0] + (f"  (+{len(links) - 1} more)" if len(links) > 1 else "")) if links
                        else "no change in its scope before its first symptom (a lead)")
            text.append("\n")
        missing = missing_sources(tl)
        if missing:
            text.append("not read: " + "; ".join(missing), style="cyan")
        return text

    def on_mount(self) -> None:
        self.query_one("#timeline-events", OptionList).focus()

    def _event(self, option_id: str | None) -> TimelineEvent | None:
        return next((e for e in self.events if e.id == option_id), None)

    def on_option_list_option_highlighted(self, message: OptionList.OptionHighlighted) -> None:
        e = self._event(message.option.id)
        if e is not None:
            self.query_one("#timeline-detail", Static).update(event_detail(self.report.timeline, e))

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        e = self._event(message.option.id)
        if e is not None and e.finding:
            self.dismiss(e.finding)
        else:
            self.notify("no finding shows this event", severity="warning")


def open_timeline(app: Any) -> None:
    """Push the pane for the app's report; a finding chosen in it is shown in the checks view."""
    report = app.state.report
    if report is None:
        app.notify("the timeline appears when the run finishes", severity="warning")
        return

    def jump(uid: str | None) -> None:
        if uid:
            app.jump_to_finding(uid)

    app.push_screen(TimelineScreen(report), jump)
