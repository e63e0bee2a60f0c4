"""The live soak view shows each tick (Pilot, scripted sampler)."""

from __future__ import annotations

import asyncio

from textual.widgets import Sparkline

from doctor.config import Config
from doctor.rollout.views import QueueView
from doctor.tui.watch_view import WatchApp


def test_watch_view_shows_backlog_and_verdict() -> None:
    backlogs = iter([30, 20, 10, 5, 0, 0, 0, 0])

    def sampler() -> dict[str, QueueView]:
        n = next(backlogs)
        return {"image": QueueView("image", "propertyfeedtemplate-image", (0, 2), desired=1, running=1,
                                   ready=n, reserved=0, delayed=0)}

    async def scenario() -> None:
        app = WatchApp(sampler, Config(), interval=0.05, duration=0.1)
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(100):
                await pilot.pause(0.05)
                if app.result is not None:
                    break
            assert app.result is not None
            spark = app.query_one("#spark-image", Sparkline)
            samples = [s.backlog for s in app.result.queues[0].samples]
            assert len(samples) >= 2 and list(spark.data or []) == [float(n or 0) for n in samples]
            line = str(app.query_one("#line-image").render())
            assert f"backlog {samples[-1]}" in line and "STEADY" in line
            verdict = str(app.query_one("#verdict").render())
            assert "HEALTHY" in verdict
            await pilot.press("q")

    asyncio.run(scenario())
