"""--format junit: one testsuite, one testcase per check, counts right, valid against the common JUnit XSD."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from doctor.render import render

from support.render import JUNIT_XSD, check, diagnosed_report, finding, mixed_report, report

xmlschema = pytest.importorskip("xmlschema", reason="xmlschema is a test extra (pip install -e '.[test]')")
XSD = JUNIT_XSD


@pytest.fixture(scope="module")
def schema():  # type: ignore[no-untyped-def]
    return xmlschema.XMLSchema(str(XSD))


def test_mixed_report_is_valid_and_counts_are_right(schema) -> None:  # type: ignore[no-untyped-def]
    xml = render(mixed_report(), "junit")
    schema.validate(xml)
    root = ET.fromstring(xml)
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    cases = suite.findall("testcase")
    assert [f"{c.get('classname')}/{c.get('name')}" for c in cases] == [
        "ame-doctor.ssm/values", "ame-doctor.sg/ingress", "ame-doctor.dns/resolve", "ame-doctor.reach/redis",
        "ame-doctor.reach/aurora", "ame-doctor.s3/access"]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("6", "1", "1", "2")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "1", "1")
    # the counts agree with the elements (what dashboards cross-check)
    assert len(suite.findall("testcase/failure")) == 1
    assert len(suite.findall("testcase/error")) == 1
    assert len(suite.findall("testcase/skipped")) == 2
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("type") == "critical"
    assert "Redis SG does not admit the worker SG" in (failure.text or "")
    assert "sg.ingress:missing:sg-0redis" in (failure.text or "")
    assert "authorize-security-group-ingress" in (failure.text or "")
    assert "boom" in (cases[3].find("error").get("message") or "")  # type: ignore[union-attr]
    assert "ecs:ExecuteCommand" in (cases[4].find("skipped").get("message") or "")  # type: ignore[union-attr]
    # a warn check passes but its warning is visible
    assert cases[2].find("failure") is None and "long TTL <script>" in (cases[2].findtext("system-out") or "")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["target.cluster"] == "propertyfeedtemplate-production" and props["exit_code"] == "1"


def test_all_passing_report(schema) -> None:  # type: ignore[no-untyped-def]
    xml = render(report([check("ssm.values", "pass"), check("sg.ingress", "pass", order=2)]), "junit")
    schema.validate(xml)
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("2", "0", "0", "0")
    assert not list(suite.iter("failure")) and not list(suite.iter("error"))


def test_empty_report_is_valid(schema) -> None:  # type: ignore[no-untyped-def]
    xml = render(report([]), "junit")
    schema.validate(xml)
    assert ET.fromstring(xml).find("testsuite").get("tests") == "0"  # type: ignore[union-attr]


def test_hostile_text_stays_well_formed(schema) -> None:  # type: ignore[no-untyped-def]
    nasty = 'a]]><b attr="x">&amp;\x1b[31m & "quotes" </testcase>'
    xml = render(report([check("sg.ingress", "fail", [finding("sg.ingress:x:y", "error", nasty, detail=nasty)])]),
                 "junit")
    schema.validate(xml)
    assert nasty.replace("\x1b", "") in ET.fromstring(xml).find("testsuite/testcase/failure").text  # type: ignore[union-attr,operator]


def test_the_schema_rejects_a_broken_document(schema) -> None:  # type: ignore[no-untyped-def]
    """The XSD is not a rubber stamp: a testcase without a name and a negative count are refused."""
    assert not schema.is_valid('<testsuites><testsuite name="x" tests="-1"/></testsuites>')
    assert not schema.is_valid('<testsuites><testsuite name="x" tests="1"><testcase/></testsuite></testsuites>')


def test_root_causes_are_the_runs_failure_message(schema) -> None:  # type: ignore[no-untyped-def]
    xml = render(diagnosed_report(), "junit")
    schema.validate(xml)
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert (cases[0].get("classname"), cases[0].get("name")) == ("ame-doctor.diagnosis", "root-cause")
    assert [c.get("name") for c in cases[1:]] == ["values", "ingress", "resolve", "redis", "aurora", "access"]
    # one more test, one more failure, and the counts still agree with the elements
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("7", "2", "1", "2")
    assert len(suite.findall("testcase/failure")) == 2
    failure = cases[0].find("failure")
    assert failure is not None and failure.get("type") == "confirmed"
    assert (failure.get("message") or "").splitlines() == [
        "ROOT CAUSE: The Redis SG does not admit the worker SG (confirmed) on service propertyfeedtemplate-image, "
        "queue image — explains: Connections to Redis hang; No worker is consuming the queue on queue image — "
        "first step: aws ec2 describe-security-groups --group-ids sg-0redis",
        "ROOT CAUSE: Tasks run with SSM values older than the current ones (likely) on service "
        "propertyfeedtemplate-bulk — first step: aws ecs update-service --force-new-deployment ..."]
    body = failure.text or ""
    for needle in ("explains: No worker is consuming the queue on queue image "
                   "(queue-not-draining/workers-not-consuming, confirmed)",
                   "evidence: sg.ingress:missing:sg-0redis", "$ # then add the 6379 rule from sg-0worker",
                   "jobs-fail-immediately/stale-ssm-values, likely, score 0.66"):
        assert needle in body, needle
    assert body.index("missing-redis-ingress") < body.index("stale-ssm-values")
    out = suite.findtext("system-out") or ""
    assert out.startswith("Root cause\nROOT CAUSE: The Redis SG") and "Playbooks\n" in out


def test_no_root_cause_testcase_without_root_causes() -> None:
    xml = render(mixed_report(), "junit")
    assert "root-cause" not in xml and "ROOT CAUSE" not in xml
