"""Blocking work off the event loop: a daemon thread per call, its results handed back to the loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any


async def in_thread(
    loop: asyncio.AbstractEventLoop, func: Callable[[Any], Any], arg: Any, name: str,
    on_finding: Callable[[Any], None] | None = None,
) -> Any:
    """``func(arg)`` in a daemon thread named ``name`` (a stuck SDK call cannot block exit), awaited on ``loop``.

    With ``on_finding``, ``func`` is a sync check: each item it yields is handed to ``on_finding`` on the loop
    as it comes. Without, the function's return value is the result (plain blocking calls).
    """
    fut: asyncio.Future[Any] = loop.create_future()

    def settle(exc: BaseException | None, value: Any = None) -> None:
        if fut.done():  # timed out or cancelled meanwhile
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)

    def target() -> None:
        try:
            out = func(arg)
            if on_finding is not None:
                for f in out or ():
                    call_soon(loop, on_finding, f)
                out = None
        except BaseException as e:  # delivered to the awaiting coroutine
            call_soon(loop, settle, e)
            return
        call_soon(loop, settle, None, out)

    threading.Thread(target=target, name=name, daemon=True).start()
    return await fut


def call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    """``fn(*args)`` on ``loop`` from another thread; dropped once the loop is closed."""
    with contextlib.suppress(RuntimeError):  # the loop is closed (run over, interrupted): nobody waits
        loop.call_soon_threadsafe(fn, *args)
