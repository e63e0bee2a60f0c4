"""Incident-ready Markdown: target, time and versions, the root cause(s) first (what each explains, its
evidence linked to the findings, its next steps as code blocks), the diagnosis, then checks, findings and
next steps. Safe to paste into a ticket or a GitHub/Jira comment: every value from the target is
escaped (no stray tables, links, HTML, @mentions or #references), commands sit in code fences longer
than any backtick run they contain, and secrets were scrubbed by the redactor before rendering."""

from __future__ import annotations

import re

from doctor.model import CauseState, CheckResult, CheckStatus, Report, RootCause, Severity
from doctor.render.rootcause import cause_id, explained_text, headline
from doctor.render.timeline import markdown_section

ICON = {
    CheckStatus.passed: "✅ pass", CheckStatus.warn: "⚠️ warn", CheckStatus.fail: "❌ fail",
    CheckStatus.error: "💥 error", CheckStatus.unknown: "❔ unknown", CheckStatus.skipped: "⏭️ skipped",
}
STATE_RANK = {CauseState.confirmed: 0, CauseState.likely: 1, CauseState.possible: 2, CauseState.unknown: 3,
              CauseState.ruled_out: 4}
_SPECIAL = re.compile(r"([\\`*_\[\]<>#|@~&])")  # always mid-line: line-start syntax cannot trigger


def esc(text: str) -> str:
    """Inline text that renders literally: Markdown/HTML punctuation backslash-escaped, one line."""
    flat = " ".join(str(text).split())
    return _SPECIAL.sub(r"\\\1", flat)


def code(text: str) -> str:
    """Inline code span that survives backticks inside ``text``."""
    flat = " ".join(str(text).split()).replace("|", "\\|")  # GFM tables split on | even in code spans
    longest = max((len(m) for m in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def fenced(lines: list[str], lang: str = "") -> list[str]:
    longest = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{lang}", *lines, fence]


def _check_row(c: CheckResult) -> str:
    return f"| {c.order} | {code(c.id)} | {ICON[c.status]} | {esc(c.summary)} | {c.duration_ms} ms |"


def finding_anchors(report: Report) -> dict[str, str]:
    """The anchor of each problem finding in the Findings section (numbered: no target text in the HTML)."""
    problems = [f for _, f in report.findings() if f.severity != Severity.info]
    return {f.uid: f"finding-{n}" for n, f in enumerate(problems, 1)}


def _evidence_link(uid: str, anchors: dict[str, str]) -> str:
    return f"[{code(uid)}](#{anchors[uid]})" if uid in anchors else code(uid)


def _root_cause(n: int, rc: RootCause, anchors: dict[str, str]) -> list[str]:
    out = [f"### {n}. {esc(headline(rc))}", "", f"{code(cause_id(rc))}, score {rc.score:.2f}", ""]
    if rc.explains:
        out += ["Explains:", ""]
        out += [f"- {esc(explained_text(rc, e))} ({code(cause_id(e))}, {e.state.value}, score {e.score:.2f})"
                for e in rc.explains]
        out.append("")
    if rc.evidence:
        out += ["Evidence: " + ", ".join(_evidence_link(u, anchors) for u in rc.evidence), ""]
    if rc.next_steps:
        out += ["Next steps:", "", *fenced(rc.next_steps, "sh"), ""]
    return out


def render(report: Report, *, color: bool = False) -> str:
    t, r, s = report.target, report.run, report.summary
    out: list[str] = [f"# ame-doctor: {report.status.value.upper()} on {esc(t.cluster)}", ""]
    out += [
        "| | |", "|---|---|",
        f"| **Target** | cluster {code(t.cluster)}, region {code(t.region or '?')}, account {code(t.account or '?')} |",
    ]
    if t.queues:
        out.append("| **Queues** | " + ", ".join(f"{code(q)} → {code(v.service)}" for q, v in t.queues.items()) + " |")
    out += [
        f"| **Time** | {esc(r.started_at)} → {esc(r.finished_at or '(unfinished)')} ({r.duration_ms} ms)"
        + (" — **interrupted, partial report**" if r.interrupted else "") + " |",
        f"| **Versions** | ame-doctor {esc(report.tool.version)}, report schema {report.schema_version} |",
        f"| **Run** | {code(r.id)} — {code(' '.join(r.argv))} |" if r.argv else f"| **Run** | {code(r.id)} |",
        f"| **Result** | {s.passed} pass, {s.warn} warn, {s.fail} fail, {s.error} error, {s.unknown} unknown, "
        f"{s.skipped} skipped — exit {report.exit_code} |",
        "",
    ]

    anchors = finding_anchors(report)
    if report.diagnosis.root_causes:
        out += ["## Root cause", ""]
        for n, rc in enumerate(report.diagnosis.root_causes, 1):
            out += _root_cause(n, rc, anchors)

    out += markdown_section(report, esc, code, lambda uid: _evidence_link(uid, anchors))
    causes = [(p, c) for p in report.playbooks for c in p.causes]
    causes.sort(key=lambda pc: (STATE_RANK[pc[1].state], -pc[1].score))
    strong = [(p, c) for p, c in causes if c.state in (CauseState.confirmed, CauseState.likely)]
    out += ["## Diagnosis", ""]
    if strong:
        for p, c in strong:
            out.append(f"### {c.state.value.upper()}: {esc(c.title)} ({code(p.id + ' / ' + c.id)})")
            out.append("")
            if c.reason:
                out += [f"Why: {esc(c.reason)}", ""]
            if c.evidence:
                out += ["Evidence: " + ", ".join(code(u) for u in c.evidence), ""]
            if c.next_steps:
                out += ["Next steps:", "", *fenced(c.next_steps, "sh"), ""]
    elif report.playbooks:
        out += ["No cause is confirmed or likely.", ""]
    else:
        out += ["No playbook was evaluated in this run.", ""]
    if report.playbooks:
        out += ["| Playbook | Verdict |", "|---|---|"]
        out += [f"| {code(p.id)} | {esc(p.verdict)} |" for p in report.playbooks]
        out.append("")

    out += ["## Checks", "", "| # | Check | Status | Summary | Time |", "|---|---|---|---|---|"]
    out += [_check_row(c) for c in sorted(report.checks, key=lambda c: c.order)]
    out.append("")

    problems = [(c, f) for c in report.checks for f in c.findings if f.severity != Severity.info]
    out += ["## Findings", ""]
    if not problems:
        out += ["No warnings or errors.", ""]
    for _c, f in problems:
        out.append(f'- <a id="{anchors[f.uid]}"></a>**{f.severity.value.upper()}** {esc(f.title)} — {code(f.uid)}')
        if f.detail:
            out.append(f"  - {esc(f.detail)}")
        if f.resources:
            out.append("  - resources: " + ", ".join(code(x) for x in f.resources))
        if f.signals:
            out.append("  - signals: " + ", ".join(code(x) for x in f.signals))
        if f.remediation:
            out.append(f"  - fix: {esc(f.remediation)}")
    if problems:
        out.append("")

    steps: dict[str, str] = {}  # command -> its line: each command once, under the first cause naming it
    for rc in report.diagnosis.root_causes:
        for step in rc.next_steps:
            steps.setdefault(step, f"{esc(rc.title or cause_id(rc))}: {code(step)}")
    for _, c in strong:
        for step in c.next_steps:
            steps.setdefault(step, f"{esc(c.title)}: {code(step)}")
    for chk in sorted(report.checks, key=lambda x: x.order):
        if chk.status in (CheckStatus.unknown, CheckStatus.skipped) and chk.unlock:
            line = f"{code(chk.id)} could not run — unlock with {code(chk.unlock)}"
        elif chk.status == CheckStatus.error:
            line = f"{code(chk.id)} errored — {esc(chk.summary)}"
        else:
            continue
        steps.setdefault(line, line)
    out += ["## Next steps", ""]
    out += [f"{i}. {x}" for i, x in enumerate(steps.values(), 1)] or ["Nothing to do: no confirmed or likely cause."]
    out.append("")
    return "\n".join(out) + "\n"
