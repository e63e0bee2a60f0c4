"""Rendering of the gate's decision (text, json, junit) and of the soak (tick lines, summary, json)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from doctor.rollout.rules import GateDecision
from doctor.rollout.soak import NO_STORM, QueueSoak, SoakResult, summarise
from doctor.rollout.views import QueueView

DECISION_FORMATS = ("text", "json", "junit")
_MARK = {"pass": "PASS", "fail": "FAIL", "overridden": "OVERRIDE", "not-applicable": "n/a"}


def _decision_junit(d: GateDecision) -> str:
    failures = sum(1 for r in d.rules if r.verdict == "fail")
    cases = []
    for r in d.rules:
        body = (f'<failure message={quoteattr(r.detail)}>{escape(r.detail)}</failure>' if r.verdict == "fail"
                else f"<skipped message={quoteattr(r.verdict)}/>" if r.verdict == "not-applicable" else "")
        cases.append(f'  <testcase classname="ame-doctor.gate" name={quoteattr(r.id + ": " + r.title)}>{body}</testcase>')
    skipped = sum(1 for r in d.rules if r.verdict == "not-applicable")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuite name="ame-doctor gate" tests="{len(d.rules)}" failures="{failures}" errors="0" '
            f'skipped="{skipped}">\n' + "\n".join(cases) + "\n</testsuite>\n")


def _decision_text(d: GateDecision) -> str:
    lines = [f"ame-doctor gate — cluster {d.cluster}", ""]
    for change in d.changes:
        lines.append(f"  {change.summary}")
    if d.changes:
        lines.append("")
    for r in d.rules:
        lines.append(f"  [{_MARK[r.verdict]:>8}] {r.title}")
        lines.append(f"             {r.detail}")
    lines.append("")
    kinds = ", ".join(f"{ch.kind} {ch.queue} {ch.current} -> {ch.requested}" for ch in d.changes)
    lines.append(f"{'ALLOW' if d.allowed else 'DENY'}" + (f": {kinds}" if kinds else ""))
    if d.override_reason:
        lines.append(f"override recorded: {d.override_reason}")
    for c in d.commands:
        lines.append(f"  $ {c}")
    return "\n".join(lines) + "\n"


def render_decision(d: GateDecision, fmt: str) -> str:
    """``fmt`` is json, junit or (anything else) text."""
    if fmt == "json":
        return d.model_dump_json(indent=2) + "\n"
    if fmt == "junit":
        return _decision_junit(d)
    return _decision_text(d)


def tick_line(t: float, views: dict[str, QueueView], soaks: dict[str, QueueSoak]) -> str:
    """One line per sample: each queue's backlog, running drain rate, tasks, restarts, new errors."""
    parts = []
    for name, v in views.items():
        q = soaks[name]
        summarise(q, NO_STORM)
        rate = f"{q.drain_rate_per_min:+.1f}/min" if q.drain_rate_per_min is not None else "rate ?"
        backlog = v.backlog if v.backlog_known else "?"
        idle = " idle" if v.desired == 0 and v.running == 0 else ""
        parts.append(f"{name}: backlog {backlog} ({rate}) {v.running}/{v.desired}{idle} restarts {q.restarts}"
                     + (f" new: {','.join(q.new_errors)}" if q.new_errors else ""))
    return f"[{t:6.0f}s] " + " | ".join(parts)


def render_summary(r: SoakResult) -> str:
    """The soak verdict: per queue its state, the trend and each verdict with why."""
    lines = ["", f"Soak verdict for {r.cluster}: {'HEALTHY' if r.healthy else 'NOT HEALTHY'}"]
    for q in r.queues:
        last = q.samples[-1] if q.samples else None
        tte = f"{q.time_to_empty_s:.0f}s" if q.time_to_empty_s is not None else "n/a"
        lines.append(f"  {q.queue} ({q.service}): {q.state}; backlog {last.backlog if last else '?'}, drain "
                     f"{q.drain_rate_per_min if q.drain_rate_per_min is not None else '?'}/min, empty in {tte}, "
                     f"restarts {q.restarts}, new errors {', '.join(q.new_errors) or 'none'}")
        for name, ok in q.verdicts.items():
            note = q.notes.get(name)
            lines.append(f"      [{'ok' if ok else 'NO'}] {name}" + (f": {note}" if note else ""))
    return "\n".join(lines) + "\n"


def render_soak(r: SoakResult, fmt: str) -> str:
    """``fmt`` json: the soak document; anything else: the text summary."""
    if fmt == "json":
        return r.model_dump_json(indent=2) + "\n"
    return render_summary(r)
