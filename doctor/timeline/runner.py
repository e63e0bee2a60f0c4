"""The timeline inside a run: the sources are read in a thread while the checks run (CloudTrail allows two
lookups a second: better spent alongside the checks than after them), bounded by the run's deadline;
once the report and its diagnosis exist, the timeline is assembled onto it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from doctor.config import Config
from doctor.facts import Facts
from doctor.model import Report, SourceStatus
from doctor.redact import Redactor
from doctor.threads import in_thread
from doctor.timeline.assemble import assemble
from doctor.timeline.collect import Collected, collect, window_for
from doctor.timeline.sources import SourceRead

GRACE = 5.0  # seconds past the run deadline a source may take to notice it and stop


class TimelineJob:
    def __init__(self, config: Config, facts: Facts, redactor: Redactor, deadline: float,
                 since: timedelta | None = None) -> None:
        self.config = config
        self.facts = facts
        self.redactor = redactor
        self.window = window_for(config, since, datetime.now(UTC), deadline)
        self._task: asyncio.Future[Any] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> TimelineJob:
        self._task = asyncio.ensure_future(
            in_thread(loop, lambda _: collect(self.facts, self.window, self.redactor), None, "doctor-timeline"))
        return self

    async def attach(self, report: Report) -> None:
        """Wait for the sources (until the deadline), then set ``report.timeline``."""
        loop = asyncio.get_running_loop()
        if self._task is None:  # not started yet (the engine starts it once the probes are under way)
            self.start(loop)
        assert self._task is not None
        budget = max(0.0, self.window.deadline - time.monotonic()) + GRACE
        try:
            collected = await asyncio.wait_for(asyncio.shield(self._task), budget)
        except TimeoutError:
            collected = Collected(self.window, [SourceRead("timeline", status=SourceStatus.error,
                                                           note="the sources did not finish before the run deadline")])
        except Exception as e:  # a bug in a source must not cost the report
            collected = Collected(self.window, [SourceRead("timeline", status=SourceStatus.error,
                                                           note=f"{type(e).__name__}: {e}")])
        report.timeline = await in_thread(
            loop, lambda _: assemble(report, collected, self.config, self.redactor), None, "doctor-timeline-assemble")
