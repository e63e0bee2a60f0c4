"""--format text: the root cause(s) lead, one line each with what they explain, then the first next step."""

from __future__ import annotations

from doctor.model import Scope
from doctor.render import render
from doctor.render.rootcause import headline, scope_text

from support.render import check, diagnosed_report, explained, mixed_report, report, root_cause


def test_root_causes_lead_in_rank_order_with_their_first_step() -> None:
    lines = render(diagnosed_report(), "text").splitlines()
    assert lines[2] == ("ROOT CAUSE: The Redis SG does not admit the worker SG (confirmed) on service "
                        "propertyfeedtemplate-image, queue image — explains: Connections to Redis hang; "
                        "No worker is consuming the queue on queue image")
    assert lines[3] == ("  jobs-fail-immediately/missing-redis-ingress  score 0.97  "
                        "evidence: sg.ingress:missing:sg-0redis")
    assert lines[4] == "  first step: $ aws ec2 describe-security-groups --group-ids sg-0redis"
    assert lines[5].startswith("ROOT CAUSE: Tasks run with SSM values older than the current ones (likely) on "
                               "service propertyfeedtemplate-bulk")
    assert "explains" not in lines[5]  # it explains nothing else
    assert lines[7] == "  first step: $ aws ecs update-service --force-new-deployment ..."
    text = "\n".join(lines)
    assert text.index("ROOT CAUSE:") < text.index("Playbooks") < text.index("Checks")
    assert "# then add the 6379 rule" not in text  # only the first step leads


def test_without_root_causes_the_output_is_unchanged() -> None:
    plain, diagnosed = render(mixed_report(), "text").splitlines(), render(diagnosed_report(), "text").splitlines()
    assert not [line for line in plain if "ROOT CAUSE" in line]
    assert diagnosed[:2] + diagnosed[9:] == plain  # the same report without its root-cause block


def test_healthy_report_says_so() -> None:
    out = render(report([check("ssm.values", "pass")]), "text")
    assert "ROOT CAUSE" not in out and out.rstrip().splitlines()[-1].startswith("HEALTHY:")


def test_colour_keeps_the_words() -> None:
    out = render(diagnosed_report(), "text", color=True)
    assert "\x1b[" in out and "ROOT CAUSE: The Redis SG does not admit the worker SG" in out


def test_scope_and_explains_wording() -> None:
    assert scope_text(Scope()) == "the platform"
    assert scope_text(Scope(services=["a", "b"], queues=["q"])) == "services a, b, queue q"
    rc = root_cause("pb", "c", "likely", services=("svc",), title="",
                    explains=[explained("pb2", "same", services=("svc",), title=""),
                              explained("pb3", "wider", queues=("q1", "q2"))])
    # no title: the ids; an explained cause on the root's scope does not repeat it
    assert headline(rc) == "ROOT CAUSE: pb/c (likely) on service svc — explains: pb2/same; wider title on queues q1, q2"
