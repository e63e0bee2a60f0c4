"""A fixed report and a scripted event source for the TUI tests (plus a check that the sample is valid)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from doctor.events import CheckFinished, CheckStarted, Event, FindingEmitted, RunFinished, RunStarted
from doctor.model import (
    CauseResult,
    CauseState,
    CheckResult,
    CheckStatus,
    Diagnosis,
    ExplainedCause,
    Finding,
    PlaybookResult,
    Report,
    RootCause,
    RunInfo,
    Scope,
    Target,
    ToolInfo,
    run_status,
    summarize,
)
from doctor.registry import CheckMeta
from doctor.tui.source import merge_reports

SECRET = "s3cret-db-password"

META = [
    CheckMeta(id="ssm.values", title="SSM parameters present and well-formed", order=1, proves="p", remediation="fix it",
              why="Workers read every setting from SSM at boot; a missing value crashes them."),
    CheckMeta(id="sg.ingress", title="Security groups let workers reach Redis and Aurora", order=2, proves="p", remediation="fix it",
              why="A missing ingress rule makes every connection time out."),
    CheckMeta(id="dns.resolve", title="Endpoints resolve", order=3, proves="p", remediation="fix it", why="Names must resolve."),
    CheckMeta(id="reach.redis", title="Redis reachable and authenticated", order=4, proves="p", remediation="fix it",
              why="Without Redis no job is ever popped."),
    CheckMeta(id="reach.aurora", title="Aurora writer reachable", order=5, proves="p", remediation="fix it", why="Jobs write to the DB."),
]

SG_FINDING = Finding(
    uid="sg.ingress:missing-ingress:sg-0aurora", severity="error",
    title="Aurora SG does not admit the worker SG on 3306",
    detail="No ingress rule on sg-0aurora references sg-0worker for tcp/3306.",
    evidence={"aurora_sg": "sg-0aurora", "worker_sg": "sg-0worker", "port": 3306, "DB_PASSWORD": "***"},
    resources=["sg-0aurora", "sg-0worker"],
    remediation="aws ec2 authorize-security-group-ingress --group-id sg-0aurora --protocol tcp --port 3306 "
                "--source-group sg-0worker",
    signals=["sg.aurora_blocked"],
)
REDIS_FINDING = Finding(
    uid="reach.redis:slow:ame-redis", severity="warning", title="Redis answered slowly (850 ms)",
    evidence={"latency_ms": 850, "host": "ame-redis.cache.amazonaws.com"}, resources=["ame-redis"],
    remediation="Check the Redis node's CPU and network.", signals=["reach.redis_slow"],
)
OK_FINDING = Finding(uid="ssm.values:ok:/propertyfeedtemplate/production/", severity="info",
                     title="All 14 SSM parameters present", signals=["ssm.values_ok"])


def results() -> list[CheckResult]:
    return [
        CheckResult(id="ssm.values", title=META[0].title, order=1, status=CheckStatus.passed, duration_ms=120,
                    summary="ok", findings=[OK_FINDING]),
        CheckResult(id="sg.ingress", title=META[1].title, order=2, status=CheckStatus.fail, duration_ms=340,
                    summary=SG_FINDING.title, findings=[SG_FINDING]),
        CheckResult(id="dns.resolve", title=META[2].title, order=3, status=CheckStatus.passed, duration_ms=15,
                    summary="ok"),
        CheckResult(id="reach.redis", title=META[3].title, order=4, status=CheckStatus.warn, duration_ms=1850,
                    summary=REDIS_FINDING.title, findings=[REDIS_FINDING]),
        CheckResult(id="reach.aurora", title=META[4].title, order=5, status=CheckStatus.unknown, duration_ms=5,
                    summary="access denied: needs IAM permission rds:DescribeDBClusters",
                    unlock="rds:DescribeDBClusters"),
    ]


PLAYBOOKS = [
    PlaybookResult(id="jobs-pending", title="Jobs stay pending", verdict="likely: Aurora blocked by its security group",
                   causes=[
                       CauseResult(id="aurora-sg", title="Aurora SG blocks the workers", state=CauseState.likely,
                                   score=0.6, evidence=[SG_FINDING.uid], reason="sg.aurora_blocked",
                                   next_steps=["aws ec2 describe-security-groups --group-ids sg-0aurora"]),
                       CauseResult(id="redis-down", title="Redis unreachable", state=CauseState.ruled_out,
                                   reason="reach.redis completed without showing it"),
                   ]),
    PlaybookResult(id="jobs-fail-immediately", title="Jobs fail immediately", verdict="nothing conclusive",
                   causes=[CauseResult(id="db-perms", title="DB user lacks privileges", state=CauseState.unknown,
                                       reason="reach.aurora was unknown")]),
]

IMAGE = Scope(services=["propertyfeedtemplate-image"], queues=["image"])
ROOT_CAUSES = [
    RootCause(playbook="jobs-pending", cause="aurora-sg", title="Aurora SG blocks the workers", state=CauseState.likely,
              score=0.6, scope=IMAGE, evidence=[SG_FINDING.uid],
              explains=[ExplainedCause(playbook="timeout-symptoms", cause="db-path-blocked",
                                       title="The path to Aurora drops packets", state=CauseState.possible, score=0.3,
                                       scope=IMAGE)],
              next_steps=["aws ec2 describe-security-groups --group-ids sg-0aurora",
                          "aws ec2 authorize-security-group-ingress --group-id sg-0aurora --protocol tcp --port 3306 "
                          "--source-group sg-0worker"]),
]

TARGET = Target(account="123456789012", region="eu-west-1", cluster="propertyfeedtemplate-production")


def sample_report(checks: list[CheckResult] | None = None, run_id: str = "run000000001") -> Report:
    """The report of ``checks`` (default: all of them); the Aurora SG is its root cause while sg.ingress fails."""
    checks = results() if checks is None else checks
    blocked = any(c.id == "sg.ingress" and c.status == CheckStatus.fail for c in checks)
    return Report(
        tool=ToolInfo(version="0.1.0"),
        run=RunInfo(id=run_id, started_at="2026-01-01T00:00:00+00:00", finished_at="2026-01-01T00:00:02+00:00",
                    duration_ms=2000),
        target=TARGET, checks=checks, summary=summarize(checks), status=run_status(checks), exit_code=1,
        playbooks=PLAYBOOKS, diagnosis=Diagnosis(root_causes=ROOT_CAUSES if blocked else []),
    )


class FakeSource:
    """Scripted engine events. ``gate``: when set, the run pauses before that check finishes until released."""

    def __init__(self, gate: str | None = None, crash: bool = False) -> None:
        self.calls: list[list[str] | None] = []
        self.gate = gate
        self.crash = crash
        self.release = asyncio.Event()
        self.paused = asyncio.Event()

    async def events(self, only: Sequence[str] | None = None) -> AsyncIterator[Event]:
        self.calls.append(list(only) if only else None)
        run = len(self.calls)
        wanted = [m for m in META if not only or m.id in only]
        yield RunStarted(f"run{run:09d}", TARGET.model_copy(update={"account": None}), wanted)
        if self.crash:
            raise RuntimeError("engine exploded")
        done = []
        for meta in wanted:
            yield CheckStarted(meta.id)
            res = next(r for r in results() if r.id == meta.id)
            if only:  # a rerun fixes the check
                res = res.model_copy(update={"status": CheckStatus.passed, "summary": "fixed", "findings": []})
            for f in res.findings:
                yield FindingEmitted(meta.id, f)
            if meta.id == self.gate and run == 1 and not self.release.is_set():  # only the first run pauses
                self.paused.set()
                await self.release.wait()
            done.append(res)
            yield CheckFinished(res)
        yield RunFinished(sample_report(done, run_id=f"run{run:09d}"))

    def merge(self, base: Report, partial: Report) -> Report:
        """Merged, then re-diagnosed as the real source does (here: the sample's root cause or none)."""
        merged = merge_reports(base, partial)
        merged.diagnosis = sample_report(merged.checks).diagnosis
        return merged


def test_sample_report_round_trips() -> None:
    report = sample_report()
    assert Report.model_validate_json(report.to_json()) == report
    assert SECRET not in report.to_json()
    assert [c.id for c in report.checks] == [m.id for m in META]
