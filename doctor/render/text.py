"""Plain text report (Rich markup when colour is on) and the live progress printer."""

from __future__ import annotations

import io
from typing import TextIO

from doctor.events import CheckFinished, CheckStarted, Event, RunStarted
from doctor.model import CauseState, CheckResult, CheckStatus, Report, RootCause, Severity
from doctor.render.rootcause import cause_id, first_step, headline
from doctor.render.timeline import what_changed

ICON = {
    CheckStatus.passed: "PASS", CheckStatus.warn: "WARN", CheckStatus.fail: "FAIL",
    CheckStatus.error: "ERROR", CheckStatus.unknown: "UNKNOWN", CheckStatus.skipped: "SKIP",
}
STYLE = {
    CheckStatus.passed: "green", CheckStatus.warn: "yellow", CheckStatus.fail: "red bold",
    CheckStatus.error: "magenta", CheckStatus.unknown: "cyan", CheckStatus.skipped: "dim",
}
SEV_STYLE = {Severity.info: "dim", Severity.warning: "yellow", Severity.error: "red", Severity.critical: "red bold"}


def _check_lines(c: CheckResult) -> list[tuple[str, str]]:
    """(style, text) lines for one check."""
    out = [(STYLE[c.status], f"[{ICON[c.status]:>7}] {c.order:>2} {c.id:<14} {c.summary}  ({c.duration_ms} ms)")]
    if c.unlock and c.status in (CheckStatus.unknown, CheckStatus.skipped):
        out.append(("cyan", f"{'':>14}unlock: {c.unlock}"))
    for f in c.findings:
        if f.severity == Severity.info:
            continue
        out.append((SEV_STYLE[f.severity], f"{'':>14}- {f.severity.value.upper()}: {f.title}"))
        if f.detail:
            out.append(("", f"{'':>16}{f.detail}"))
        if f.remediation:
            out.append(("", f"{'':>16}fix: {f.remediation}"))
    return out


def _root_cause_lines(rc: RootCause) -> list[tuple[str, str]]:
    """The headline, then the cause's id, score and evidence, then its first next step."""
    out = [("red bold" if rc.state == CauseState.confirmed else "yellow bold", headline(rc))]
    facts = f"{cause_id(rc)}  score {rc.score:.2f}"
    if rc.evidence:
        facts += f"  evidence: {', '.join(rc.evidence)}"
    out.append(("dim", f"  {facts}"))
    step = first_step(rc)
    if step:
        out.append(("", f"  first step: $ {step}"))
    return out


def render(report: Report, *, color: bool = False) -> str:
    lines: list[tuple[str, str]] = []
    t = report.target
    lines.append(("bold", f"ame-doctor {report.tool.version} — cluster {t.cluster}"
                          f" region {t.region or '?'} account {t.account or '?'}"))
    lines.append(("", ""))
    for rc in report.diagnosis.root_causes:  # the answer first, strongest first
        lines.extend(_root_cause_lines(rc))
        lines.extend(("", line) for line in what_changed(report.timeline, rc))
    if report.diagnosis.root_causes:
        lines.append(("", ""))
    if report.playbooks:  # each playbook's verdict, in report order (a --symptom playbook first)
        lines.append(("bold", "Playbooks"))
        for p in report.playbooks:
            lines.append(("", f"  {p.id}: {p.verdict}"))
        lines.append(("", ""))
    causes = [(p, c) for p in report.playbooks for c in p.causes if c.state.value in ("confirmed", "likely")]
    if causes:
        lines.append(("bold", "Diagnosis"))
        for p, c in sorted(causes, key=lambda pc: -pc[1].score):
            lines.append(("red" if c.state.value == "confirmed" else "yellow",
                          f"  {c.state.value.upper():>9} {p.id} / {c.id}: {c.title}"))
            if c.evidence:
                lines.append(("dim", f"            evidence: {', '.join(c.evidence)}"))
            for step in c.next_steps:
                lines.append(("", f"            $ {step}"))
        lines.append(("", ""))
    lines.append(("bold", "Checks"))
    for check in report.checks:
        lines.extend(_check_lines(check))
    s = report.summary
    lines.append(("", ""))
    lines.append(("bold", f"{report.status.value.upper()}: {s.passed} pass, {s.warn} warn, {s.fail} fail, "
                          f"{s.error} error, {s.unknown} unknown, {s.skipped} skipped — exit {report.exit_code}"))
    if not color:
        return "\n".join(text for _, text in lines) + "\n"
    from rich.console import Console
    from rich.text import Text

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120, highlight=False)
    for style, text in lines:
        console.print(Text(text, style=style or ""))
    return buf.getvalue()


class ProgressPrinter:
    """Engine listener: live progress on stderr (a status line on a TTY, plain lines otherwise)."""

    def __init__(self, stream: TextIO, tty: bool) -> None:
        self.stream = stream
        self.tty = tty
        self.running: set[str] = set()

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.stream.write(f"ame-doctor: running {len(event.checks)} checks against {event.target.cluster}\n")
        elif isinstance(event, CheckStarted):
            self.running.add(event.check_id)
            if self.tty:
                self.stream.write(f"\r\x1b[K  running: {', '.join(sorted(self.running))}")
        elif isinstance(event, CheckFinished):
            r = event.result
            self.running.discard(r.id)
            prefix = "\r\x1b[K" if self.tty else ""
            self.stream.write(f"{prefix}  {ICON[r.status]:>7} {r.id} — {r.summary} ({r.duration_ms} ms)\n")
            if self.tty and self.running:
                self.stream.write(f"  running: {', '.join(sorted(self.running))}")
        self.stream.flush()
