"""Snapshot tests (pytest-textual-snapshot): fixed terminal size, fixed clock, spinner off.

Update after an intended UI change with: pytest tests/tui/test_tui_snapshots.py --snapshot-update
(and look at the SVGs in tests/tui/__snapshots__/test_tui_snapshots/).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from test_tui_sample import META, FakeSource, sample_report

from doctor.tui.app import DoctorApp


def fixed_clock() -> float:
    return 0.0


def view_app() -> DoctorApp:
    return DoctorApp(None, sample_report(), metas=META, spinner=False, clock=fixed_clock)


async def settle(pilot: Any, cond: Callable[[], bool]) -> None:
    """Wait for a condition (not a duration): the screenshot is taken once the UI is there."""
    for _ in range(500):
        if cond():
            break
        await pilot.pause(0.01)
    await pilot.pause()


def press_and_wait(keys: list[str], cond: Callable[[DoctorApp], bool]) -> Callable[[Any], Awaitable[None]]:
    async def run_before(pilot: Any) -> None:
        await settle(pilot, lambda: len(pilot.app.query("FooterKey")) > 0)  # the footer composes late
        await pilot.press(*keys)
        await settle(pilot, lambda: cond(pilot.app))

    return run_before


def test_view_checks_80x24(snap_compare: Any) -> None:
    assert snap_compare(view_app(), terminal_size=(80, 24),
                        run_before=press_and_wait(["v", "down"], lambda app: app.selected == "sg.ingress"))


def test_view_diagnosis_80x24(snap_compare: Any) -> None:
    """A failing report opens here: the root cause first, expanded; the playbooks below, collapsed."""
    assert snap_compare(view_app(), terminal_size=(80, 24),
                        run_before=press_and_wait([], lambda app: app.view == "diagnosis"))


def test_view_wide_side_by_side(snap_compare: Any) -> None:
    assert snap_compare(view_app(), terminal_size=(150, 32),
                        run_before=press_and_wait(["v", "down"], lambda app: app.selected == "sg.ingress"
                                                  and app.screen.has_class("wide")))


def test_help_screen(snap_compare: Any) -> None:
    assert snap_compare(view_app(), terminal_size=(100, 30),
                        run_before=press_and_wait(["question_mark"], lambda app: len(app.screen_stack) == 2))


def test_live_run_mid_flight(snap_compare: Any) -> None:
    source = FakeSource(gate="reach.redis")
    app = DoctorApp(source, spinner=False, clock=fixed_clock)

    async def wait_for_gate(pilot: Any) -> None:
        await settle(pilot, lambda: source.paused.is_set() and len(pilot.app.query("FooterKey")) > 0)

    assert snap_compare(app, terminal_size=(80, 24), run_before=wait_for_gate)
    source.release.set()
