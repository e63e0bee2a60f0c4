"""Bounded subprocesses for the transports: each runs in its own session (process group) with a
deadline and is killed as a group on timeout, so a hung plugin or shell never outlives the check."""

from __future__ import annotations

import contextlib
import os
import pty
import signal
import subprocess
from typing import Any


def run_bounded(argv: list[str], *, env: dict[str, str] | None = None, cwd: str | None = None,
                timeout: float, use_pty: bool = False) -> tuple[int | None, str, bool]:
    """Run ``argv`` in a new session; return (exit status, combined output, timed_out). Never hangs."""
    master = slave = None
    stdin: Any = subprocess.DEVNULL
    if use_pty:  # session-manager-plugin wants a terminal on stdin
        master, slave = pty.openpty()
        stdin = slave
    try:
        proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                cwd=cwd, start_new_session=True)
    finally:
        if slave is not None:
            os.close(slave)
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        try:
            out, _ = proc.communicate(timeout=2)
        except subprocess.TimeoutExpired:
            out = b""
    finally:
        if master is not None:
            os.close(master)
        _kill_group(proc)  # stragglers of a finished leader
    return (None if timed_out else proc.returncode), out.decode("utf-8", "replace"), timed_out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(2)
