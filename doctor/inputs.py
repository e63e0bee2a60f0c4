"""Reading the user's input files within bounds: a size limit, and a wait limit for pipes and FIFOs.

A config file, a ``.env`` or a saved report may be a regular file, a character device (``/dev/stdin``,
``/dev/zero``) or a pipe (``--env-file <(aws s3 cp s3://bucket/prod.env -)``, a named FIFO). Whatever it
is, reading it ends: more than ``limit`` bytes is refused, and a pipe, FIFO or device that gives nothing
for ``STREAM_WAIT`` seconds is refused instead of blocking forever (a FIFO nobody writes to).
"""

from __future__ import annotations

import os
import select
import stat
import time
from pathlib import Path

STREAM_WAIT = 10.0  # seconds a pipe, FIFO or device may stay silent before it is refused
_CHUNK = 1 << 16


class InputError(Exception):
    """An input file that cannot be read within the bounds: one line naming the file, exit 2."""


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The bytes of ``path``; ``InputError`` when it is missing, a directory, unreadable, larger than
    ``limit`` bytes, or a stream silent for ``STREAM_WAIT`` seconds."""
    name = str(path)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except OSError as e:
        raise InputError(f"{name}: cannot read: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{name}: is a directory")
    regular = stat.S_ISREG(st.st_mode)
    if regular and st.st_size > limit:
        raise InputError(f"{name}: too large ({st.st_size} bytes; at most {limit} are read)")
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    if stat.S_ISFIFO(st.st_mode):
        flags |= os.O_NONBLOCK  # opening a FIFO must not wait for a writer
    try:
        fd = os.open(name, flags)
    except OSError as e:
        raise InputError(f"{name}: cannot read: {e.strerror or e}") from None
    try:
        return _read_all(fd, name, limit, stream=not regular)
    finally:
        os.close(fd)


def _read_all(fd: int, name: str, limit: int, stream: bool) -> bytes:
    chunks: list[bytes] = []
    total = 0
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        if stream:
            deadline = time.monotonic() + STREAM_WAIT
            while not poller.poll(max(0, int((deadline - time.monotonic()) * 1000))):
                if time.monotonic() >= deadline:
                    raise InputError(f"{name}: nothing to read for {STREAM_WAIT:g}s (a pipe or FIFO nobody writes to?)")
        try:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
        except BlockingIOError:
            continue
        except OSError as e:
            raise InputError(f"{name}: cannot read: {e.strerror or e}") from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise InputError(f"{name}: too large (more than {limit} bytes)")


def read_text_bounded(path: str | Path, limit: int) -> str:
    """``read_bounded`` decoded as UTF-8 (a byte-order mark is kept; callers strip it as their format says)."""
    data = read_bounded(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
