"""GitHub Actions workflow commands: one annotation per root cause first (rank order: the root-cause
line, then the first next step), then one per check that needs attention.

``fail``/``error`` -> ``::error``, ``warn`` -> ``::warning``, ``unknown`` -> ``::notice`` (with the
unlock). Escaping follows the runner's rules (``%``, CR, LF in data; also ``:`` and ``,`` in
properties), so a finding can never inject another workflow command."""

# (no ``from __future__ import annotations``: this module's public function is named ``annotations``)
from doctor.model import CauseState, CheckStatus, Report, RootCause, Severity
from doctor.render.rootcause import cause_id, first_step, headline

LEVEL = {CheckStatus.fail: "error", CheckStatus.error: "error", CheckStatus.warn: "warning",
         CheckStatus.unknown: "notice"}


def _data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(s: str) -> str:
    return _data(s).replace(":", "%3A").replace(",", "%2C")


def _root_cause(rc: RootCause) -> str:
    level = "error" if rc.state in (CauseState.confirmed, CauseState.likely) else "warning"
    lines = [headline(rc)]
    step = first_step(rc)
    if step:
        lines.append(f"first step: {step}")
    title = f"ame-doctor root cause {cause_id(rc)}"
    return f"::{level} title={_prop(title)}::{_data(chr(10).join(lines))}"


def annotations(report: Report) -> str:
    out = [_root_cause(rc) for rc in report.diagnosis.root_causes]
    for c in sorted(report.checks, key=lambda c: c.order):
        level = LEVEL.get(c.status)
        if level is None:
            continue
        lines = [c.summary]
        for f in c.findings:
            if f.severity == Severity.info:
                continue
            lines.append(f"[{f.severity.value}] {f.title}" + (f" — fix: {f.remediation}" if f.remediation else ""))
        if c.status == CheckStatus.unknown and c.unlock:
            lines.append(f"unlock: {c.unlock}")
        title = f"ame-doctor {c.id} {c.status.value}"
        out.append(f"::{level} title={_prop(title)}::{_data(chr(10).join(lines))}")
    return "".join(line + "\n" for line in out)


def render(report: Report, *, color: bool = False) -> str:
    return annotations(report)
