"""Synthetic checks for CLI/engine tests and the bench, loaded with AME_DOCTOR_CHECK_MODULES=support.synthetic_checks
(tests/ on PYTHONPATH). They need nothing (no AWS), so the CLI runs them without credentials."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from doctor.checkapi import CheckContext, CheckMeta, FindingKind, check
from doctor.model import Finding, Severity


def _kind(severity: str, title: str, detail: str = "", signal: str | None = None) -> FindingKind:
    return FindingKind(signal=signal, severity=Severity(severity), title=title, detail=detail, why="tests",
                       fix="nothing to fix")


KINDS = {"ok": _kind("info", "{what}", signal="syn.ok"), "warn": _kind("warning", "a warning"),
         "fail": _kind("error", "an error", "synthetic failure")}


def _meta(cid: str, order: int, title: str) -> CheckMeta:
    return CheckMeta(id=cid, title=title, order=order, proves="synthetic", why="tests",
                     remediation="nothing to fix", needs=(), kinds=KINDS)


@check(_meta("syn.ok", 101, "always healthy"))
def ok(ctx: CheckContext) -> Iterator[Finding]:
    yield ctx.finding("ok", "thing", what="all good")


@check(_meta("syn.warn", 102, "always warns"))
def warn(ctx: CheckContext) -> Iterator[Finding]:
    yield ctx.finding("warn", "thing")


@check(_meta("syn.fail", 103, "always fails"))
def fail(ctx: CheckContext) -> Iterator[Finding]:
    yield ctx.finding("fail", "thing")


@check(_meta("syn.unknown", 104, "cannot run"))
def unknown(ctx: CheckContext) -> Iterator[Finding]:
    ctx.unknown("synthetic: no permission", unlock="syn:Action")
    return


@check(_meta("syn.sleep", 105, "sleeps SYN_SLEEP seconds"))
def sleep(ctx: CheckContext) -> Iterator[Finding]:
    end = time.monotonic() + float(os.environ.get("SYN_SLEEP", "30"))
    while time.monotonic() < end:
        time.sleep(0.05)
    yield ctx.finding("ok", "slept", what="woke up")


@check(_meta("syn.crash", 106, "crashes"))
def crash(ctx: CheckContext) -> Iterator[Finding]:
    raise RuntimeError("synthetic crash")
    yield  # pragma: no cover
