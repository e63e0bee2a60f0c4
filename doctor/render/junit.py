"""JUnit XML (the Jenkins/Surefire flavour CI dashboards read): one testsuite per run, one testcase
per check. ``fail`` -> <failure>, ``error`` -> <error>, ``unknown``/``skipped`` -> <skipped>;
``warn`` and ``pass`` are passing testcases (warnings are listed in <system-out>).

A run with root causes leads with one more testcase, ``ame-doctor.diagnosis`` / ``root-cause``, whose
<failure> message is the root-cause line(s) and whose text adds what each explains, its evidence and
next steps (the run's failure message on a CI dashboard); the suite's <system-out> starts with them too."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from doctor.model import CheckResult, CheckStatus, Finding, Report, RootCause, Severity
from doctor.render.rootcause import cause_id, explained_text, first_step, headline

# characters XML 1.0 cannot carry at all (ElementTree would write them and break the document)
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(el: ET.Element) -> None:
    for node in el.iter():
        if node.text:
            node.text = _INVALID.sub("", node.text)
        for k, v in node.attrib.items():
            node.attrib[k] = _INVALID.sub("", v)


def _finding_text(f: Finding) -> str:
    lines = [f"[{f.severity.value}] {f.title}  ({f.uid})"]
    if f.detail:
        lines.append(f"    {f.detail}")
    if f.resources:
        lines.append(f"    resources: {', '.join(f.resources)}")
    if f.remediation:
        lines.append(f"    fix: {f.remediation}")
    return "\n".join(lines)


def _problems(c: CheckResult) -> list[Finding]:
    return [f for f in c.findings if f.severity != Severity.info]


def _testcase(c: CheckResult) -> ET.Element:
    group, _, name = c.id.partition(".")
    tc = ET.Element("testcase", {
        "classname": f"ame-doctor.{group}", "name": name or c.id, "time": f"{c.duration_ms / 1000:.3f}",
    })
    problems = _problems(c)
    body = "\n\n".join(_finding_text(f) for f in problems)
    if c.status == CheckStatus.fail:
        worst = max(problems, key=lambda f: f.severity.rank, default=None)
        el = ET.SubElement(tc, "failure", {"message": f"{c.title}: {c.summary}"[:1000],
                                           "type": worst.severity.value if worst else "fail"})
        el.text = body or c.summary
    elif c.status == CheckStatus.error:
        el = ET.SubElement(tc, "error", {"message": f"{c.title}: {c.summary}"[:1000], "type": "error"})
        el.text = body or c.summary
    elif c.status in (CheckStatus.unknown, CheckStatus.skipped):
        msg = f"{c.status.value}: {c.summary}"
        if c.unlock:
            msg += f" (unlock: {c.unlock})"
        ET.SubElement(tc, "skipped", {"message": msg[:1000]})
    elif body:  # pass/warn with warnings: visible, not failing
        ET.SubElement(tc, "system-out").text = body
    return tc


def _root_cause_text(rc: RootCause) -> str:
    lines = [headline(rc), f"    {cause_id(rc)}, {rc.state.value}, score {rc.score:.2f}"]
    lines += [f"    explains: {explained_text(rc, e)} ({cause_id(e)}, {e.state.value})" for e in rc.explains]
    lines += [f"    evidence: {uid}" for uid in rc.evidence]
    lines += [f"    $ {step}" for step in rc.next_steps]
    return "\n".join(lines)


def _root_cause_testcase(report: Report) -> ET.Element:
    """The run's failure: every root cause in rank order, one line each with its first next step."""
    roots = report.diagnosis.root_causes
    tc = ET.Element("testcase", {"classname": "ame-doctor.diagnosis", "name": "root-cause", "time": "0.000"})
    message = "\n".join(headline(rc) + (f" — first step: {step}" if (step := first_step(rc)) else "")
                        for rc in roots)
    el = ET.SubElement(tc, "failure", {"message": message[:1000], "type": roots[0].state.value})
    el.text = "\n\n".join(_root_cause_text(rc) for rc in roots)
    return tc


def counts(report: Report) -> dict[str, int]:
    s = {st: 0 for st in CheckStatus}
    for c in report.checks:
        s[c.status] += 1
    roots = 1 if report.diagnosis.root_causes else 0  # the root-cause testcase
    return {
        "tests": len(report.checks) + roots,
        "failures": s[CheckStatus.fail] + roots,
        "errors": s[CheckStatus.error],
        "skipped": s[CheckStatus.unknown] + s[CheckStatus.skipped],
    }


def render(report: Report, *, color: bool = False) -> str:
    n = counts(report)
    suite_attrs = {
        "name": f"ame-doctor {report.target.cluster}",
        "tests": str(n["tests"]), "failures": str(n["failures"]), "errors": str(n["errors"]),
        "skipped": str(n["skipped"]), "time": f"{report.run.duration_ms / 1000:.3f}",
        "timestamp": report.run.started_at[:19],
        "id": report.run.id,
    }
    suites = ET.Element("testsuites", {"name": "ame-doctor", "tests": suite_attrs["tests"],
                                       "failures": suite_attrs["failures"], "errors": suite_attrs["errors"],
                                       "time": suite_attrs["time"]})
    suite = ET.SubElement(suites, "testsuite", suite_attrs)
    props = ET.SubElement(suite, "properties")
    t = report.target
    for name, value in (("tool.version", report.tool.version), ("schema_version", str(report.schema_version)),
                        ("target.cluster", t.cluster), ("target.region", t.region or ""),
                        ("target.account", t.account or ""), ("status", report.status.value),
                        ("exit_code", str(report.exit_code))):
        ET.SubElement(props, "property", {"name": name, "value": value})
    if report.diagnosis.root_causes:
        suite.append(_root_cause_testcase(report))
    for c in sorted(report.checks, key=lambda c: c.order):
        suite.append(_testcase(c))
    sections = []
    if report.diagnosis.root_causes:
        sections.append("Root cause\n" + "\n".join(headline(rc) for rc in report.diagnosis.root_causes))
    verdicts = [f"{p.id}: {p.verdict}" for p in report.playbooks]
    if verdicts:
        sections.append("Playbooks\n" + "\n".join(verdicts))
    if sections:
        ET.SubElement(suite, "system-out").text = "\n\n".join(sections)
    _clean(suites)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
