"""Synthetic checks for CLI/engine tests and the bench, loaded with AME_DOCTOR_CHECK_MODULES=synthetic_checks
(tests/ on PYTHONPATH). They need nothing (no AWS), so the CLI runs them without credentials."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from doctor.checkapi import CheckContext, CheckMeta, check
from doctor.model import Finding


def _meta(cid: str, order: int, title: str) -> CheckMeta:
    return CheckMeta(id=cid, title=title, order=order, proves="synthetic", why="tests",
                     remediation="nothing to fix", needs=())


@check(_meta("syn.ok", 101, "always healthy"))
def ok(ctx: CheckContext) -> Iterator[Finding]:
    yield ctx.legacy_finding("ok", "thing", "info", "all good", signals=["syn_ok"])


@check(_meta("syn.warn", 102, "always warns"))
def warn(ctx: CheckContext) -> Iterator[Finding]:
    yield ctx.legacy_finding("warn", "thing", "warning", "a warning")


@check(_meta("syn.fail", 103, "always fails"))
def fail(ctx: CheckContext) -> Iterator[Finding]:
    yield ctx.legacy_finding("fail", "thing", "error", "an error", detail="synthetic failure")


@check(_meta("syn.unknown", 104, "cannot run"))
def unknown(ctx: CheckContext) -> Iterator[Finding]:
    ctx.unknown("synthetic: no permission", unlock="syn:Action")
    return


@check(_meta("syn.sleep", 105, "sleeps SYN_SLEEP seconds"))
def sleep(ctx: CheckContext) -> Iterator[Finding]:
    end = time.monotonic() + float(os.environ.get("SYN_SLEEP", "30"))
    while time.monotonic() < end:
        time.sleep(0.05)
    yield ctx.legacy_finding("ok", "slept", "info", "woke up")


@check(_meta("syn.crash", 106, "crashes"))
def crash(ctx: CheckContext) -> Iterator[Finding]:
    raise RuntimeError("synthetic crash")
    yield  # pragma: no cover
