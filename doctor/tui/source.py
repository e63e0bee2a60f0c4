"""Where the TUI's events come from. No Textual here: the app only consumes an ``EventSource``.

``LiveSource`` builds the engine exactly the way ``ame-doctor run`` does (``doctor.cli``'s
config/selection/preflight functions) and runs it on its own thread and event loop, so a blocking
call anywhere in the engine never freezes the UI; events are forwarded to the UI's loop as they
happen. Tests inject a fake source yielding scripted events.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from doctor.events import Event, RunFinished, RunStarted
from doctor.model import Report, exit_code_for, run_status, summarize


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
    """The real engine, configured from the ``tui`` subcommand's arguments."""

    def __init__(self, args: argparse.Namespace, argv: list[str]) -> None:
        from doctor.cli import load_config_from_args, select_checks

        self.args = args
        self.argv = argv
        self.config = load_config_from_args(args)
        self.checks, self.only, self.skip = select_checks(args)
        symptom = getattr(args, "symptom", None)
        self.priority: list[str] = []
        if symptom:
            from doctor.diagnosis import checks_for_playbook

            self.priority = checks_for_playbook(symptom)

    def preflight(self) -> str | None:
        """Why the doctor cannot talk to AWS at all (the TUI exits 3 like ``run``), or None."""
        from doctor.cli import preflight_aws

        selected = [c for c in self.checks if (not self.only or c.id in self.only) and c.id not in self.skip]
        return preflight_aws(self.config, selected)

    def engine(self, only: Sequence[str] | None = None) -> Any:
        from doctor.engine import Engine, EngineOptions

        opts = EngineOptions(only=list(only) if only else self.only, skip=[] if only else self.skip,
                             priority=self.priority, argv=["ame-doctor", *self.argv])
        return Engine(self.config, self.checks, opts)

    def merge(self, base: Report, partial: Report) -> Report:
        from doctor.diagnosis import diagnose

        report = merge_reports(base, partial)
        report.playbooks = diagnose(report, self.config)
        report.exit_code = exit_code_for(report.checks, self.config.run.fail_on, self.config.run.strict)
        return report

    async def events(self, only: Sequence[str] | None = None) -> AsyncIterator[Event]:
        engine = self.engine(only)
        symptom = getattr(self.args, "symptom", None)
        async for event in thread_events(engine):
            if isinstance(event, RunStarted) and event.target.region is None:
                # the region the AWS chain resolved (the report carries it at the end anyway)
                region = await asyncio.to_thread(lambda: engine.aws.region_name)
                event = RunStarted(event.run_id, event.target.model_copy(update={"region": region}), event.checks)
            elif isinstance(event, RunFinished) and symptom:
                event.report.playbooks.sort(key=lambda p: p.id != symptom)  # as `run --symptom` shows it
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
