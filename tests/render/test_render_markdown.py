"""--format markdown: incident-ready order (target/time/versions, diagnosis first, checks, findings,
next steps) and safe to paste (target-controlled text cannot inject Markdown/HTML, mentions or fences)."""

from __future__ import annotations

from doctor.render import render

from support.render import check, finding, mixed_report, report


def test_incident_order_and_content() -> None:
    md = render(mixed_report(), "markdown")
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    assert heads == ["## Diagnosis", "## Checks", "## Findings", "## Next steps"]
    top = md.split("## Diagnosis")[0]
    for needle in ("propertyfeedtemplate-production", "eu-west-1", "123456789012", "2026-11-28T02:00:00",
                   "ame-doctor 0.1.0", "report schema 1", "exit 1", "FAILING"):
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
