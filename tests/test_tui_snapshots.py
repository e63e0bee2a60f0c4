"""Snapshot tests (pytest-textual-snapshot): fixed terminal size, fixed clock, spinner off.

Update after an intended UI change with: pytest tests/test_tui_snapshots.py --snapshot-update
(and look at the SVGs in tests/__snapshots__/test_tui_snapshots/).
"""

from __future__ import annotations

from typing import Any

from test_tui_sample import META, FakeSource, sample_report

from doctor.tui.app import DoctorApp


def fixed_clock() -> float:
    return 0.0


def view_app() -> DoctorApp:
    return DoctorApp(None, sample_report(), metas=META, spinner=False, clock=fixed_clock)


def test_view_checks_80x24(snap_compare: Any) -> None:
    assert snap_compare(view_app(), press=["down"], terminal_size=(80, 24))


def test_view_diagnosis_80x24(snap_compare: Any) -> None:
    assert snap_compare(view_app(), press=["v"], terminal_size=(80, 24))


def test_view_wide_side_by_side(snap_compare: Any) -> None:
    assert snap_compare(view_app(), press=["down"], terminal_size=(150, 32))


def test_help_screen(snap_compare: Any) -> None:
    assert snap_compare(view_app(), press=["question_mark"], terminal_size=(100, 30))


def test_live_run_mid_flight(snap_compare: Any) -> None:
    source = FakeSource(gate="reach.redis")
    app = DoctorApp(source, spinner=False, clock=fixed_clock)

    async def wait_for_gate(pilot: Any) -> None:
        for _ in range(500):
            if source.paused.is_set():
                break
            await pilot.pause(0.01)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=wait_for_gate)
    source.release.set()
