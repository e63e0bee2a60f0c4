"""The timeline pane: ``t`` opens what changed (the links per root cause on top, every event below), ``enter`` on a
change jumps to the finding that shows it; an event no finding shows stays put; ``escape`` closes."""

from __future__ import annotations

import asyncio

from test_tui_app import SIZE, until
from test_tui_sample import sample_report
from textual.widgets import OptionList, Static

from doctor.model import (
    Report,
    SourceStatus,
    Timeline,
    TimelineEvent,
    TimelineKind,
    TimelineLink,
    TimelineSource,
)
from doctor.tui.app import DoctorApp
from doctor.tui.timeline_pane import TimelineScreen

FINDING = "sg.ingress:missing-ingress:sg-0aurora"
LINK = "Aurora SG sg-0aurora ingress rule revoked by deploy/alex 41 min before the first Aurora timeout on image"


def _report() -> Report:
    report = sample_report()
    rc = report.diagnosis.root_causes[0]
    report.timeline = Timeline(
        since="2025-12-31T00:00:00+00:00", until="2026-01-01T00:00:00+00:00",
        events=[
            TimelineEvent(id="ct:1", at="2025-12-31T23:19:00+00:00", kind=TimelineKind.change, source="cloudtrail",
                          title="SG sg-0aurora ingress rule revoked", actor="deploy/alex",
                          resources=["sg:sg-0aurora"], finding=FINDING),
            TimelineEvent(id="logs:1", at="2026-01-01T00:00:00+00:00", kind=TimelineKind.symptom, source="logs",
                          title="image: first 'database connection timed out'"),
        ],
        links=[TimelineLink(playbook=rc.playbook, cause=rc.cause, change="ct:1", symptom="logs:1", gap_s=2460,
                            text=LINK)],
        unexplained_symptoms=[], sources=[TimelineSource(name="cloudtrail", status=SourceStatus.ok, events=1)])
    return report


def test_t_opens_the_timeline_and_enter_jumps_from_a_change_to_its_finding() -> None:
    async def scenario() -> None:
        app = DoctorApp(None, _report(), spinner=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("t")
            await until(pilot, lambda: isinstance(app.screen, TimelineScreen))
            screen = app.screen
            head = str(screen.query_one("#timeline-head", Static).render())
            assert LINK in head
            events = screen.query_one("#timeline-events", OptionList)
            assert events.option_count == 2 and events.has_focus
            await pilot.press("down")  # the symptom: no finding shows it
            await until(pilot, lambda: events.highlighted == 1)
            assert "no finding shows this event" in str(screen.query_one("#timeline-detail", Static).render())
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is screen  # stays open
            await pilot.press("up")
            await until(pilot, lambda: events.highlighted == 0)
            detail = str(screen.query_one("#timeline-detail", Static).render())
            assert f"finding: {FINDING}" in detail and f"tied to {_report().diagnosis.root_causes[0].playbook}" in detail
            await pilot.press("enter")
            await until(pilot, lambda: not isinstance(app.screen, TimelineScreen) and app.view == "checks")
            await pilot.pause()
            assert (app.selected, app.marked) == ("sg.ingress", FINDING)

    asyncio.run(scenario())


def test_escape_closes_and_a_report_without_a_timeline_says_so() -> None:
    async def scenario() -> None:
        app = DoctorApp(None, sample_report(), spinner=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("t")
            await until(pilot, lambda: isinstance(app.screen, TimelineScreen))
            assert "this report has no timeline" in str(app.screen.query_one("#timeline-head", Static).render())
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, TimelineScreen))

    asyncio.run(scenario())
