"""--format markdown: incident-ready order (target/time/versions, root cause and diagnosis first, checks,
findings, next steps) and safe to paste (target-controlled text cannot inject Markdown/HTML, mentions or fences)."""

from __future__ import annotations

from doctor.model import SCHEMA_VERSION
from doctor.render import render

from support.render import check, diagnosed_report, finding, mixed_report, report, root_cause


def test_incident_order_and_content() -> None:
    md = render(mixed_report(), "markdown")
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    assert heads == ["## Diagnosis", "## Checks", "## Findings", "## Next steps"]
    top = md.split("## Diagnosis")[0]
    for needle in ("propertyfeedtemplate-production", "eu-west-1", "123456789012", "2026-11-28T02:00:00",
                   "ame-doctor 0.1.0", f"report schema {SCHEMA_VERSION}", "exit 1", "FAILING"):
        assert needle in top, needle
    diag = md.split("## Diagnosis")[1].split("## Checks")[0]
    assert "CONFIRMED: missing\\-redis\\-ingress title" in diag or "CONFIRMED: missing-redis-ingress title" in diag
    assert "aws ec2 describe-security-groups --group-ids sg-0redis" in diag  # in a code fence, verbatim
    assert "```sh" in diag
    checks = md.split("## Checks")[1].split("## Findings")[0]
    rows = [line for line in checks.splitlines() if line.startswith("| ") and "`" in line]
    assert [r.split("|")[2].strip() for r in rows] == [
        "`ssm.values`", "`sg.ingress`", "`dns.resolve`", "`reach.redis`", "`reach.aurora`", "`s3.access`"]
    findings = md.split("## Findings")[1].split("## Next steps")[0]
    assert "Redis SG does not admit the worker SG" in findings and "`sg.ingress:missing:sg-0redis`" in findings
    assert "all values present" not in findings  # info findings are not problems
    steps = md.split("## Next steps")[1]
    assert "`ecs:ExecuteCommand or --exec probe-task`" in steps
    assert "aws ec2 describe-security-groups" in steps


def test_healthy_report_says_so() -> None:
    md = render(report([check("ssm.values", "pass")]), "markdown")
    assert "HEALTHY" in md and "No warnings or errors." in md and "Nothing to do" in md


def test_hostile_text_is_inert() -> None:
    evil = "@oncall-team see #123 | <img src=x onerror=alert(1)> [click](http://evil) **bold** ``` `x`"
    md = render(report([check("sg.ingress", "fail", [finding("sg.ingress:x:`y`", "error", evil, detail=evil)],
                              summary=evil)]), "markdown")
    import re

    for raw in ("<img", "[click](", "**bold**", "@oncall", "#123"):  # only ever present escaped
        assert not re.search(r"(?<!\\)" + re.escape(raw), md), raw
    assert "\\<img" in md and "\\@oncall" in md
    # table rows keep their column count despite pipes in the summary
    row = next(line for line in md.splitlines() if line.startswith("| 1 |"))
    assert row.replace("\\|", "").count("|") == 6
    # an inline code span with backticks inside still closes
    assert "`` sg.ingress:x:`y` ``" in md
    # nothing in the text can open an unbalanced fence
    assert sum(1 for line in md.splitlines() if line.startswith("```")) % 2 == 0


def test_root_cause_section_comes_first() -> None:
    md = render(diagnosed_report(), "markdown")
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    assert heads == ["## Root cause", "## Diagnosis", "## Checks", "## Findings", "## Next steps"]
    section = md.split("## Root cause")[1].split("## Diagnosis")[0]
    causes = [line for line in section.splitlines() if line.startswith("### ")]
    assert causes == [
        "### 1. ROOT CAUSE: The Redis SG does not admit the worker SG (confirmed) on service "
        "propertyfeedtemplate-image, queue image — explains: Connections to Redis hang; No worker is consuming "
        "the queue on queue image",
        "### 2. ROOT CAUSE: Tasks run with SSM values older than the current ones (likely) on service "
        "propertyfeedtemplate-bulk"]
    first = section.split("### 2.")[0]
    assert "- No worker is consuming the queue on queue image (`queue-not-draining/workers-not-consuming`, " \
           "confirmed, score 0.92)" in first
    # evidence links to the finding's anchor in the Findings section
    assert "Evidence: [`sg.ingress:missing:sg-0redis`](#finding-1)" in first
    findings = md.split("## Findings")[1]
    assert '- <a id="finding-1"></a>**CRITICAL** Redis SG does not admit the worker SG — ' \
           "`sg.ingress:missing:sg-0redis`" in findings
    assert "(#finding-3)" in section and '<a id="finding-3"></a>**WARNING** long TTL' in findings
    # next steps as a code block, verbatim
    assert "```sh\naws ec2 describe-security-groups --group-ids sg-0redis\n# then add the 6379 rule from " \
           "sg-0worker\n```" in first
    # the closing next steps start with the root causes' and list each command once
    steps = md.split("## Next steps")[1]
    assert steps.index("sg-0redis") < steps.index("force-new-deployment")
    assert steps.count("aws ec2 describe-security-groups --group-ids sg-0redis") == 1


def test_evidence_without_a_shown_finding_is_plain_code() -> None:
    rep = report([check("ssm.values", "pass", [finding("ssm.values:ok:/p/", "info", "ok")])],
                 root_causes=[root_cause("pb", "c", evidence=["ssm.values:ok:/p/", "gone:x:y"])])
    md = render(rep, "markdown")
    assert "Evidence: `ssm.values:ok:/p/`, `gone:x:y`" in md and "](#" not in md


def test_no_root_cause_section_without_root_causes() -> None:
    assert "## Root cause" not in render(mixed_report(), "markdown")


def test_hostile_root_cause_text_is_inert() -> None:
    evil = "<img src=x onerror=alert(1)> @oncall [x](http://evil)"
    rep = report([check("sg.ingress", "fail", [finding("sg.ingress:x:y", "error", "t")])],
                 root_causes=[root_cause("pb", "c", title=evil, services=("svc|#1",), steps=["echo ```; rm"])])
    md = render(rep, "markdown")
    import re

    for raw in ("<img", "[x](", "@oncall", "#1"):
        assert not re.search(r"(?<!\\)" + re.escape(raw), md), raw
    assert "````sh\necho ```; rm\n````" in md  # the fence outgrows the backticks inside
