"""Where the TUI's events come from. No Textual here: the app only consumes an ``EventSource``.

``LiveSource`` runs the engine of a built ``RunSpec`` (the same one ``ame-doctor run`` would use)
on its own thread and event loop, so a blocking call anywhere in the engine never freezes the UI;
events are forwarded to the UI's loop as they happen. Tests inject a fake source yielding scripted
events.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from doctor.diagnosis import diagnose, root_causes
from doctor.events import Event, RunFinished, RunStarted
from doctor.model import Report, exit_code_for, run_status, summarize
from doctor.runspec import RunSpec


class EventSource(Protocol):
    """What the app needs: a fresh stream of engine events per run (``only``: rerun those checks)."""

    def events(self, only: Sequence[str] | None = None) -> AsyncIterator[Event]: ...

    def merge(self, base: Report, partial: Report) -> Report:
        """The full report after a partial rerun (``partial`` holds only the rerun checks)."""
        ...


def merge_reports(base: Report, partial: Report) -> Report:
    """Replace the rerun checks in ``base``; counts, status and exit code follow (no diagnosis)."""
    fresh = {c.id: c for c in partial.checks}
    checks = [fresh.pop(c.id, c) for c in base.checks] + list(fresh.values())
    checks.sort(key=lambda c: (c.order, c.id))
    return base.model_copy(update={
        "checks": checks, "summary": summarize(checks), "status": run_status(checks),
    })


class LiveSource:
    """The real engine of ``spec``; a rerun of some checks builds a fresh engine for just those."""

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self.config = spec.config

    def preflight(self) -> str | None:
        """Why the doctor cannot talk to AWS at all (the TUI exits 3 like ``run``), or None."""
        return self.spec.preflight()

    def engine(self, only: Sequence[str] | None = None) -> Any:
        return self.spec.engine(only)

    def merge(self, base: Report, partial: Report) -> Report:
        report = merge_reports(base, partial)
        report.playbooks = diagnose(report, self.config)
        report.diagnosis = root_causes(report.playbooks, report, self.config)
        report.exit_code = exit_code_for(report.checks, self.config.run.fail_on, self.config.run.strict)
        return report

    async def events(self, only: Sequence[str] | None = None) -> AsyncIterator[Event]:
        engine = self.engine(only)
        async for event in thread_events(engine):
            if isinstance(event, RunStarted) and event.target.region is None:
                # the region the AWS chain resolved (the report carries it at the end anyway)
                region = await asyncio.to_thread(lambda: engine.aws.region_name)
                event = RunStarted(event.run_id, event.target.model_copy(update={"region": region}), event.checks)
            elif isinstance(event, RunFinished):
                self.spec.symptom_first(event.report)  # as `run --symptom` shows it
            yield event


async def thread_events(engine: Any) -> AsyncIterator[Event]:
    """``engine.events()`` run on a private loop in a daemon thread, re-yielded on the caller's loop.

    Closing the iterator (the app quits or starts another run) cancels the engine's run.
    """
    ui_loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event | BaseException | None] = asyncio.Queue()
    box: dict[str, Any] = {}
    ready = threading.Event()

    def put(item: Event | BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the UI loop is gone: nobody is listening any more
            ui_loop.call_soon_threadsafe(queue.put_nowait, item)

    async def drain() -> None:
        async for event in engine.events():
            put(event)

    def main() -> None:
        loop = asyncio.new_event_loop()
        box["loop"] = loop
        task = loop.create_task(drain())
        box["task"] = task
        ready.set()
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass
        except BaseException as e:  # surfaced to the UI as a run failure
            put(e)
        finally:
            put(None)
            loop.close()

    thread = threading.Thread(target=main, name="ame-doctor-engine", daemon=True)
    thread.start()
    ready.wait()
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        loop, task = box["loop"], box["task"]
        if not task.done():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
