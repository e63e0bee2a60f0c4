"""Synthetic reports for renderer, diff and exit-code tests (built from the real model)."""

from __future__ import annotations

from pathlib import Path

from doctor.model import (
    CauseResult,
    CauseState,
    CheckResult,
    CheckStatus,
    Diagnosis,
    ExplainedCause,
    Finding,
    PlaybookResult,
    QueueTarget,
    Report,
    RootCause,
    RunInfo,
    Scope,
    Severity,
    Target,
    ToolInfo,
    exit_code_for,
    run_status,
    summarize,
)


def finding(uid: str, severity: str = "error", title: str = "something is wrong", **kw: object) -> Finding:
    return Finding(uid=uid, severity=Severity(severity), title=title, **kw)  # type: ignore[arg-type]


def check(cid: str, status: str, findings: list[Finding] | None = None, order: int = 1, **kw: object) -> CheckResult:
    return CheckResult(id=cid, title=f"{cid} title", order=order, status=CheckStatus(status),
                       summary=kw.pop("summary", f"{cid} is {status}"), findings=findings or [],  # type: ignore[arg-type]
                       duration_ms=kw.pop("duration_ms", 12), **kw)  # type: ignore[arg-type]


def cause(cid: str, state: str, evidence: list[str] | None = None, steps: list[str] | None = None,
          score: float = 0.0) -> CauseResult:
    return CauseResult(id=cid, title=f"{cid} title", state=CauseState(state), evidence=evidence or [],
                       next_steps=steps or [], score=score)


def playbook(pid: str, verdict: str, causes: list[CauseResult]) -> PlaybookResult:
    return PlaybookResult(id=pid, title=f"{pid} title", verdict=verdict, causes=causes)


def explained(pid: str, cid: str, state: str = "likely", score: float = 0.5, *, services: tuple[str, ...] = (),
              queues: tuple[str, ...] = (), title: str | None = None) -> ExplainedCause:
    return ExplainedCause(playbook=pid, cause=cid, title=f"{cid} title" if title is None else title,
                          state=CauseState(state), score=score, scope=Scope(services=list(services), queues=list(queues)))


def root_cause(pid: str, cid: str, state: str = "confirmed", score: float = 0.9, *, services: tuple[str, ...] = (),
               queues: tuple[str, ...] = (), evidence: list[str] | None = None, steps: list[str] | None = None,
               explains: list[ExplainedCause] | None = None, title: str | None = None) -> RootCause:
    return RootCause(playbook=pid, cause=cid, title=f"{cid} title" if title is None else title,
                     state=CauseState(state), score=score, scope=Scope(services=list(services), queues=list(queues)),
                     evidence=evidence or [], explains=explains or [], next_steps=steps or [])


def report(checks: list[CheckResult], playbooks: list[PlaybookResult] | None = None, *,
           fail_on: str = "error", strict: bool = False, run_id: str = "abc123def456",
           root_causes: list[RootCause] | None = None) -> Report:
    return Report(
        tool=ToolInfo(version="0.1.0"),
        run=RunInfo(id=run_id, started_at="2026-11-28T02:00:00.123456+00:00",
                    finished_at="2026-11-28T02:00:03.500000+00:00", duration_ms=3377,
                    argv=["ame-doctor", "run", "--format", "junit"]),
        target=Target(account="123456789012", region="eu-west-1", cluster="propertyfeedtemplate-production",
                      queues={"image": QueueTarget(service="propertyfeedtemplate-image")}),
        status=run_status(checks), exit_code=exit_code_for(checks, Severity(fail_on), strict),
        checks=checks, playbooks=playbooks or [], summary=summarize(checks),
        diagnosis=Diagnosis(root_causes=root_causes or []),
    )


def mixed_report() -> Report:
    """One check of every status, with findings of every severity and a diagnosis."""
    checks = [
        check("ssm.values", "pass", [finding("ssm.values:ok:/p/", "info", "all values present",
                                             signals=["ssm.values_ok"])], order=1),
        check("sg.ingress", "fail", [
            finding("sg.ingress:missing:sg-0redis", "critical", "Redis SG does not admit the worker SG",
                    detail="sg-0redis has no 6379 rule from sg-0worker", resources=["sg-0redis", "sg-0worker"],
                    remediation="aws ec2 authorize-security-group-ingress --group-id sg-0redis ...",
                    signals=["sg.redis_missing"]),
            finding("sg.ingress:old-ip:sg-0redis", "warning", "rule names an old worker IP 172.31.40.11/32"),
        ], order=2),
        check("dns.resolve", "warn", [finding("dns.resolve:ttl:db", "warning", "long TTL <script>")], order=3),
        check("reach.redis", "error", [], order=4, summary="RuntimeError: boom"),
        check("reach.aurora", "unknown", [], order=5, summary="no exec path",
              unlock="ecs:ExecuteCommand or --exec probe-task"),
        check("s3.access", "skipped", [], order=6, summary="skipped: dependency ssm.values did not complete"),
    ]
    books = [
        playbook("jobs-fail-immediately", "missing-redis-ingress (confirmed)", [
            cause("missing-redis-ingress", "confirmed", ["sg.ingress:missing:sg-0redis"],
                  ["aws ec2 describe-security-groups --group-ids sg-0redis"], 0.9),
            cause("bad-db-host", "ruled-out"),
        ]),
        playbook("timeout-symptoms", "no cause confirmed", [cause("db-path-blocked", "unknown")]),
    ]
    return report(checks, books)


IMAGE = ("propertyfeedtemplate-image",)
BULK = ("propertyfeedtemplate-bulk",)


def diagnosed_report() -> Report:
    """``mixed_report`` with two root causes in rank order: the Redis ingress on the image service
    (explaining a timeout there and a backlog on its queue) and, independent, stale SSM values on bulk."""
    base = mixed_report()
    redis = root_cause(
        "jobs-fail-immediately", "missing-redis-ingress", "confirmed", 0.97, services=IMAGE, queues=("image",),
        title="The Redis SG does not admit the worker SG", evidence=["sg.ingress:missing:sg-0redis"],
        steps=["aws ec2 describe-security-groups --group-ids sg-0redis", "# then add the 6379 rule from sg-0worker"],
        explains=[
            explained("timeout-symptoms", "redis-path-unhealthy", "likely", 0.7, services=IMAGE, queues=("image",),
                      title="Connections to Redis hang"),
            explained("queue-not-draining", "workers-not-consuming", "confirmed", 0.92, queues=("image",),
                      title="No worker is consuming the queue"),
        ])
    ssm = root_cause("jobs-fail-immediately", "stale-ssm-values", "likely", 0.66, services=BULK,
                     title="Tasks run with SSM values older than the current ones",
                     evidence=["dns.resolve:ttl:db"], steps=["aws ecs update-service --force-new-deployment ..."])
    return base.model_copy(update={"diagnosis": Diagnosis(root_causes=[redis, ssm])})


# the JUnit XML schema the junit renderer is validated against (the stdlib has no XSD validator)
JUNIT_XSD = Path(__file__).resolve().parent / "data" / "junit.xsd"
