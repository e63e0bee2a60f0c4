"""The async runner: dependency-aware scheduling, deadlines, the event stream, the report.

Checks run in daemon threads (blocking SDK calls) or on the loop (async checks), at most
``concurrency`` at once, each as soon as its dependencies are done; results are always reported
in the fixed order. A check that raises or times out becomes ``error``; an AWS permission error
becomes ``unknown`` naming the IAM action. Nothing a check does aborts the run.

Whether AWS answers at all is decided once, early: alongside the first checks, one quick call each to STS
and ECS. When neither endpoint can be reached (or STS refuses the credentials) the run stops there —
every unfinished check ``unknown`` with the reason, exit 3 — instead of each check waiting out its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from doctor import __version__, prefetch
from doctor.aws import REJECTED_CODES, AwsSession, WriteRefused, denied_action, error_code, is_unreachable
from doctor.checkapi import CheckContext
from doctor.config import Config
from doctor.diagnosis import diagnose, root_causes
from doctor.events import CheckFinished, CheckStarted, Event, FindingEmitted, RunFinished, RunStarted
from doctor.facts import Facts
from doctor.model import (
    EXIT_CANNOT_RUN,
    EXIT_INTERRUPTED,
    CheckResult,
    CheckStatus,
    Diagnosis,
    Finding,
    PlaybookResult,
    QueueTarget,
    Report,
    RunInfo,
    Severity,
    Target,
    ToolInfo,
    exit_code_for,
    run_status,
    summarize,
)
from doctor.redact import Redactor
from doctor.registry import RegisteredCheck
from doctor.threads import in_thread
from doctor.timeline.runner import TimelineJob

# seconds the checks wait at most for the in-task probes to be under way (doctor.prefetch)
LAUNCH_WAIT = 1.0


def status_from(findings: list[Finding], unknown: bool) -> CheckStatus:
    worst = max((f.severity.rank for f in findings), default=-1)
    if worst >= Severity.error.rank:
        return CheckStatus.fail
    if unknown:
        return CheckStatus.unknown
    if worst == Severity.warning.rank:
        return CheckStatus.warn
    return CheckStatus.passed


@dataclass
class EngineOptions:
    only: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    priority: list[str] = field(default_factory=list)  # started first (e.g. a --symptom playbook's checks)
    argv: list[str] = field(default_factory=list)
    diagnose: bool = True
    timeline: bool = False  # read what changed alongside the checks; attached after the diagnosis


class Engine:
    def __init__(
        self,
        config: Config,
        checks: list[RegisteredCheck],
        options: EngineOptions | None = None,
        aws: AwsSession | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.config = config
        self.options = options or EngineOptions()
        self.redactor = redactor or Redactor(config.ssm.secret_keys)
        self.aws = aws or AwsSession(config.aws.region, config.aws.profile, transport=config.exec.transport)
        self.facts = Facts(config, self.aws, self.redactor)
        self.checks = [c for c in checks if self._selected(c.id)]
        self.results: dict[str, CheckResult] = {}
        self.run_id = uuid.uuid4().hex[:12]
        self.started = datetime.now(UTC)
        self.report: Report | None = None
        self.running: set[str] = set()  # checks started and not finished
        self.unreachable: set[str] = set()  # checks that ended because AWS could not be reached
        self.cannot_run: str | None = None  # why AWS cannot be reached at all (decided once, early): exit 3
        self.account: str | None = None  # from the early STS call
        self.prefetch = prefetch.Prefetch()  # the run's fetches ahead of the checks (started by run())
        self._listeners: list[Callable[[Event], None]] = []

    def _selected(self, check_id: str) -> bool:
        if self.options.only and check_id not in self.options.only:
            return False
        return check_id not in self.options.skip

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    def _emit(self, event: Event) -> None:
        for listener in self._listeners:
            listener(event)

    def target(self) -> Target:
        return Target(
            account=None,
            region=self.config.aws.region,
            cluster=self.config.ecs.cluster,
            queues={name: QueueTarget(service=q.service) for name, q in self.config.queues.items()},
        )

    async def events(self) -> AsyncIterator[Event]:
        """The run as an async stream of events (what the TUI consumes)."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.subscribe(queue.put_nowait)
        task = asyncio.create_task(self.run())
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def run(self) -> Report:
        loop = asyncio.get_running_loop()
        target = self.target()
        self._emit(RunStarted(self.run_id, target, [c.meta for c in self.checks]))
        sem = asyncio.Semaphore(self.config.run.concurrency)
        by_id = {c.id: c for c in self.checks}
        done: dict[str, asyncio.Event] = {c.id: asyncio.Event() for c in self.checks}
        rank = {cid: i for i, cid in enumerate(self.options.priority)}

        async def one(rc: RegisteredCheck) -> None:
            try:
                if launching is not None:
                    await asyncio.shield(launching)
                for dep in (*rc.meta.depends_on, *rc.meta.after):
                    if dep in done:
                        await done[dep].wait()
                bad = [d for d in rc.meta.depends_on
                       if d in self.results and self.results[d].status in (CheckStatus.error, CheckStatus.skipped)]
                if bad:
                    self._finish(rc.meta, CheckResult(
                        id=rc.id, title=rc.meta.title, order=rc.meta.order, status=CheckStatus.skipped,
                        summary=f"skipped: dependency {', '.join(bad)} did not complete"))
                    return
                async with sem:  # FIFO: tasks are created priority-first, then in report order
                    self.running.add(rc.id)
                    self._emit(CheckStarted(rc.id))
                    result = await self._run_check(rc, loop)  # cancelled: stays in `running`
                    # redacted off the loop, inside the global deadline: a result cut off there is never kept
                    result = await in_thread(loop, self._scrub, result, f"redact-{rc.id}")
                    self.running.discard(rc.id)
                self._finish(rc.meta, result)
            finally:
                done[rc.id].set()

        deadline = time.monotonic() + self.config.run.timeout
        # the shared facts the checks read, fetched ahead: the in-task probes first, and the checks (and the
        # timeline) start once every probe is under way, so a broken run costs about the probe's wait
        launch_wait = min(LAUNCH_WAIT, self.config.run.timeout / 10)
        self.prefetch = prefetch.start(self.facts, self.config, {r for c in self.checks for r in c.meta.reads},
                                       launch_wait)
        launching = None if self.prefetch.launched.is_set() else asyncio.ensure_future(in_thread(
            loop, lambda _: self.prefetch.launched.wait(launch_wait), None, "doctor-probe-launch"))
        ordered = sorted(self.checks, key=lambda c: (rank.get(c.id, len(rank)), c.meta.order))
        tasks = [asyncio.create_task(one(c)) for c in ordered]
        timeline = TimelineJob(self.config, self.facts, self.redactor, deadline) if self.options.timeline else None
        if timeline is not None:
            if launching is None:
                timeline.start(loop)
            else:
                launching.add_done_callback(lambda f: f.cancelled() or timeline.start(loop))
        reach = asyncio.create_task(self._reach(loop)) if self._needs_aws() else None
        try:
            await asyncio.wait_for(self._until_done(tasks, reach), timeout=self.config.run.timeout)
            if self.cannot_run:
                self._fill_unfinished(by_id, f"not run: {self.cannot_run}", set(), "",
                                      status=CheckStatus.unknown)
        except TimeoutError:
            # running checks were cut off (error); those never started are skipped
            running = set(self.running)
            reason = f"global deadline of {self.config.run.timeout:g}s reached"
            self._fill_unfinished(by_id, f"{reason} before it started", running,
                                  f"stopped: {reason} while it was running")
        except asyncio.CancelledError:  # Ctrl-C (asyncio.run cancels the main task on SIGINT)
            for t in (*tasks, *([reach] if reach else [])):
                t.cancel()
            self._fill_unfinished(by_id, "interrupted", set(), "")
            self.report = self._build_report(target, interrupted=True, account=None)
            self.report.exit_code = EXIT_INTERRUPTED  # what the process exits with
            self._emit(RunFinished(self.report))
            raise
        account = self.account
        if reach is not None:
            if not reach.done():  # the checks beat the early call: give it what is left
                budget = min(5.0, deadline - time.monotonic())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(reach), max(budget, 0.001))
            if reach.done() and reach.result():  # the checks failed fast on their own: the same verdict
                self.cannot_run = reach.result()
            account = self.account
        elif self._aws_used() and not self.unreachable:
            budget = min(5.0, deadline - time.monotonic())
            if budget > 0:
                try:
                    account = await asyncio.wait_for(in_thread(loop, lambda _: self.aws.account_id(), None, "doctor-call"), budget)
                except TimeoutError:
                    account = None
        self.report = self._build_report(target, interrupted=False, account=account)
        if timeline is not None and not self.cannot_run:  # with AWS unreachable it could read nothing either
            await timeline.attach(self.report)
        self._emit(RunFinished(self.report))
        return self.report

    def _fill_unfinished(self, by_id: dict[str, RegisteredCheck], reason: str, running: set[str],
                         running_reason: str, status: CheckStatus = CheckStatus.skipped) -> None:
        for cid, rc in by_id.items():
            if cid not in self.results:
                if cid in running:
                    result = CheckResult(id=cid, title=rc.meta.title, order=rc.meta.order,
                                         status=CheckStatus.error, summary=running_reason)
                else:
                    result = CheckResult(id=cid, title=rc.meta.title, order=rc.meta.order, status=status,
                                         summary=f"skipped: {reason}" if status == CheckStatus.skipped else reason)
                self.results[cid] = result
                self._emit(CheckFinished(result))

    async def _until_done(self, tasks: list[asyncio.Task[None]], reach: asyncio.Task[str | None] | None) -> None:
        """Every check's task done — or AWS found unreachable first: then the checks are cancelled."""
        checks = asyncio.gather(*tasks)
        # retrieved even when cancelled (Ctrl-C, the deadline): no "exception was never retrieved" at exit
        checks.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            pending: set[asyncio.Future[Any]] = {checks, *([reach] if reach else [])}
            while checks in pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if reach in done and reach.result():
                    self.cannot_run = reach.result()
                    checks.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await checks
                    return
        except asyncio.CancelledError:
            checks.cancel()
            raise

    async def _reach(self, loop: asyncio.AbstractEventLoop) -> str | None:
        """Why AWS cannot be reached at all, else None: STS GetCallerIdentity and ECS DescribeClusters, at once,
        with short timeouts; both unreachable (or STS refusing the credentials) means no check can succeed."""
        cluster = self.config.ecs.cluster
        try:
            (sts, sts_err), (_, ecs_err) = await asyncio.gather(*(
                in_thread(loop, lambda svc: self.aws.reach(svc, cluster), svc, f"doctor-reach-{svc}")
                for svc in ("sts", "ecs")))
        except Exception:  # cannot tell (a test double, an SDK surprise): the checks will say what they see
            return None
        if sts:
            self.account = str(sts.get("Account") or "") or None
        if sts_err is not None and error_code(sts_err) in REJECTED_CODES:
            self.aws.down = sts_err  # whatever runs after (views, a timeline) fails at once too
            return f"AWS refused the credentials ({error_code(sts_err)}): {sts_err}"
        if sts_err is not None and ecs_err is not None:
            self.aws.down = ecs_err
            return f"AWS endpoint unreachable: {ecs_err}"
        return None

    def _needs_aws(self) -> bool:
        return any("aws" in c.meta.needs for c in self.checks)

    def why_cannot_run(self, report: Report) -> str | None:
        """For a report with exit code 3: why the doctor could not run (one line), else None."""
        if report.exit_code != EXIT_CANNOT_RUN:
            return None
        if self.cannot_run:
            return self.cannot_run
        s = report.summary
        return (f"no check gathered evidence ({s.unknown} unknown, {s.error} error, {s.skipped} skipped of "
                f"{len(report.checks)}); the report says what unlocks them")

    def _finish(self, meta: Any, result: CheckResult) -> None:
        self.results[meta.id] = result
        self._emit(CheckFinished(result))

    def _scrub(self, result: CheckResult) -> CheckResult:
        return CheckResult.model_validate(self.redactor.scrub_obj(result.model_dump(mode="json")))

    async def _run_check(self, rc: RegisteredCheck, loop: asyncio.AbstractEventLoop) -> CheckResult:
        meta = rc.meta
        ctx = CheckContext(meta, self.config, self.aws, self.facts, self.redactor, self.results)
        findings: list[Finding] = []
        timeout = meta.timeout or self.config.run.check_timeout
        start = time.monotonic()

        closed = False  # findings that arrive after a timeout are dropped

        def on_finding(f: Finding) -> None:
            if closed:
                return
            f = Finding.model_validate(self.redactor.scrub_obj(f.model_dump(mode="json")))
            findings.append(f)
            self._emit(FindingEmitted(meta.id, f))

        status: CheckStatus | None = None
        summary: str | None = None
        unlock: str | None = None
        try:
            if inspect.isasyncgenfunction(rc.func):
                async def drain() -> None:
                    async for f in rc.func(ctx):
                        on_finding(f)
                await asyncio.wait_for(drain(), timeout)
            elif inspect.iscoroutinefunction(rc.func):
                for f in (await asyncio.wait_for(rc.func(ctx), timeout)) or ():
                    on_finding(f)
            else:
                await asyncio.wait_for(in_thread(loop, rc.func, ctx, f"check-{rc.id}", on_finding), timeout)
        except TimeoutError:
            status, summary = CheckStatus.error, f"timed out after {timeout:g}s"
        except WriteRefused as e:
            status, summary = CheckStatus.error, str(e)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            action = denied_action(e)
            if action:
                status = CheckStatus.unknown
                summary = f"access denied: needs IAM permission {action}"
                unlock = action
            elif is_unreachable(e):
                status, summary = CheckStatus.unknown, f"AWS endpoint unreachable: {e}"
                self.unreachable.add(meta.id)
            else:
                status, summary = CheckStatus.error, f"check crashed: {type(e).__name__}: {e}"
        closed = True
        if status is None and ctx.skipped_reason is not None and not findings:
            status, summary, unlock = CheckStatus.skipped, ctx.skipped_reason, ctx.unlock
        if status is None:
            status = status_from(findings, ctx.unknown_reason is not None)
            unlock = ctx.unlock
            summary = ctx.summary or _default_summary(status, findings, ctx.unknown_reason)
        elif status == CheckStatus.unknown and findings:
            status = status_from(findings, True)
        return CheckResult(
            id=meta.id, title=meta.title, order=meta.order, status=status,
            duration_ms=int((time.monotonic() - start) * 1000), summary=summary or "",
            findings=findings, unlock=unlock,
        )

    def _build_report(self, target: Target, interrupted: bool, account: str | None = None) -> Report:
        results = sorted(self.results.values(), key=lambda r: (r.order, r.id))
        finished = datetime.now(UTC)
        target = target.model_copy(update={"account": account})
        with contextlib.suppress(Exception):  # no boto3 session possible: keep the configured region
            target = target.model_copy(update={"region": self.aws.region_name})
        report = Report(
            tool=ToolInfo(version=__version__),
            run=RunInfo(
                id=self.run_id, started_at=self.started.isoformat(), finished_at=finished.isoformat(),
                duration_ms=int((finished - self.started).total_seconds() * 1000),
                argv=[self.redactor.scrub(a) for a in self.options.argv], interrupted=interrupted,
            ),
            target=target, checks=results, summary=summarize(results), status=run_status(results),
        )
        if self.options.diagnose:
            report.playbooks = [  # next steps carry real names: scrub them like everything else
                PlaybookResult.model_validate(self.redactor.scrub_obj(p.model_dump(mode="json")))
                for p in diagnose(report, self.config)
            ]
            report.diagnosis = Diagnosis.model_validate(self.redactor.scrub_obj(
                root_causes(report.playbooks, report, self.config).model_dump(mode="json")))
        report.exit_code = exit_code_for(results, self.config.run.fail_on, self.config.run.strict)
        if self.cannot_run or (
                self.unreachable and all(r.id in self.unreachable or r.status == CheckStatus.skipped for r in results)):
            report.exit_code = EXIT_CANNOT_RUN  # AWS could not be reached at all: the doctor could not run
        return report

    def _aws_used(self) -> bool:
        return bool(self.aws.calls)


def _default_summary(status: CheckStatus, findings: list[Finding], unknown: str | None) -> str:
    problems = [f for f in findings if f.severity.rank >= Severity.warning.rank]
    if problems:
        head = problems[0].title
        return head if len(problems) == 1 else f"{head} (+{len(problems) - 1} more)"
    if unknown:
        return unknown
    return "ok"
