"""Engine: bounded concurrency, dependencies, fixed report order, deadlines, crash/denied handling,
the event stream, and shared facts fetched once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from doctor.checkapi import CheckContext, CheckMeta, FindingKind
from doctor.config import Config
from doctor.engine import Engine, EngineOptions
from doctor.events import CheckFinished, CheckStarted, FindingEmitted, RunFinished, RunStarted
from doctor.model import CheckStatus, Finding, RunStatus, Severity
from doctor.registry import RegisteredCheck


def kind(severity: str, title: str, signal: str | None = None) -> FindingKind:
    return FindingKind(signal=signal, severity=Severity(severity), title=title, why="w", fix="r")


KINDS = {"ok": kind("info", "fine", "synthetic.ok"), "w": kind("warning", "a warning"),
         "e": kind("error", "async problem"), "leak": kind("warning", "oops {text}")}


def meta(cid: str, order: int, **kw: Any) -> CheckMeta:
    return CheckMeta(id=cid, title=f"synthetic {cid}", order=order, proves="p", why="w", remediation="r",
                     kinds=KINDS, **kw)


def synth(cid: str, order: int, func: Any, **kw: Any) -> RegisteredCheck:
    return RegisteredCheck(meta(cid, order, **kw), func, origin=f"tests.{cid}")


def config(**run: Any) -> Config:
    return Config(aws={"region": "eu-west-1"}, run=run)


def run(checks: list[RegisteredCheck], cfg: Config | None = None, **opts: Any) -> Any:
    engine = Engine(cfg or config(), checks, EngineOptions(diagnose=False, **opts))
    return engine, asyncio.run(engine.run())


def ok(ctx: CheckContext) -> Iterator[Finding]:
    yield ctx.finding("ok", "x")


def test_bounded_concurrency() -> None:
    lock = threading.Lock()
    active = 0
    peak = 0

    def busy(ctx: CheckContext) -> Iterator[Finding]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.15)
        with lock:
            active -= 1
        return iter(())

    checks = [synth(f"syn.c{i}", i + 1, busy) for i in range(6)]
    _, report = run(checks, config(concurrency=2))
    assert peak == 2
    assert [c.status for c in report.checks] == [CheckStatus.passed] * 6


def test_report_order_is_fixed_whatever_finishes_first() -> None:
    def slow(ctx: CheckContext) -> Iterator[Finding]:
        time.sleep(0.3)
        yield from ok(ctx)

    finished: list[str] = []
    checks = [synth("syn.b", 2, ok), synth("syn.a", 1, slow), synth("syn.c", 3, ok)]
    engine = Engine(config(concurrency=3), checks, EngineOptions(diagnose=False))
    engine.subscribe(lambda e: finished.append(e.result.id) if isinstance(e, CheckFinished) else None)
    report = asyncio.run(engine.run())
    assert finished[-1] == "syn.a"  # finished last ...
    assert [c.id for c in report.checks] == ["syn.a", "syn.b", "syn.c"]  # ... reported first


def test_dependency_waits_and_sees_result() -> None:
    seen: dict[str, Any] = {}

    def first(ctx: CheckContext) -> Iterator[Finding]:
        time.sleep(0.2)
        yield from ok(ctx)

    def second(ctx: CheckContext) -> Iterator[Finding]:
        seen["dep"] = ctx.result_of("syn.first")
        yield from ok(ctx)

    _, report = run([synth("syn.second", 1, second, depends_on=("syn.first",)), synth("syn.first", 2, first)])
    assert seen["dep"] is not None and seen["dep"].status == CheckStatus.passed
    assert report.check("syn.second").status == CheckStatus.passed


def test_crash_becomes_error_and_dependents_are_skipped() -> None:
    def boom(ctx: CheckContext) -> Iterator[Finding]:
        raise ValueError("kaboom")

    ran: list[str] = []

    def dependent(ctx: CheckContext) -> Iterator[Finding]:
        ran.append("dependent")
        return iter(())

    _, report = run([synth("syn.boom", 1, boom), synth("syn.dep", 2, dependent, depends_on=("syn.boom",)),
                     synth("syn.other", 3, ok)])
    boom_r, dep_r, other_r = report.checks
    assert boom_r.status == CheckStatus.error and "ValueError: kaboom" in boom_r.summary
    assert dep_r.status == CheckStatus.skipped and "syn.boom" in dep_r.summary
    assert ran == []
    assert other_r.status == CheckStatus.passed  # the run continued


def test_after_waits_but_a_failed_predecessor_never_skips() -> None:
    seen: dict[str, Any] = {}

    def boom(ctx: CheckContext) -> Iterator[Finding]:
        time.sleep(0.2)
        raise ValueError("kaboom")

    def later(ctx: CheckContext) -> Iterator[Finding]:
        seen["before"] = ctx.result_of("syn.boom")
        yield from ok(ctx)

    _, report = run([synth("syn.later", 1, later, after=("syn.boom",)), synth("syn.boom", 2, boom)])
    assert seen["before"] is not None and seen["before"].status == CheckStatus.error
    assert report.check("syn.later").status == CheckStatus.passed


def test_skip_ends_skipped_without_degrading_the_run() -> None:
    def optional(ctx: CheckContext) -> Iterator[Finding]:
        ctx.skip("not configured: set [sentry] organization", unlock="[sentry] organization")
        return iter(())

    _, report = run([synth("syn.optional", 1, optional), synth("syn.ok", 2, ok)])
    result = report.check("syn.optional")
    assert result.status == CheckStatus.skipped
    assert result.summary == "not configured: set [sentry] organization"
    assert result.unlock == "[sentry] organization"
    assert report.status == RunStatus.healthy


def test_per_check_timeout_is_error() -> None:
    def hang(ctx: CheckContext) -> Iterator[Finding]:
        time.sleep(3)
        return iter(())

    _, report = run([synth("syn.hang", 1, hang, timeout=0.2), synth("syn.ok", 2, ok)])
    assert report.check("syn.hang").status == CheckStatus.error
    assert "timed out after 0.2s" in report.check("syn.hang").summary
    assert report.check("syn.ok").status == CheckStatus.passed


def test_global_deadline_running_is_error_pending_is_skipped() -> None:
    def hang(ctx: CheckContext) -> Iterator[Finding]:
        time.sleep(3)
        return iter(())

    _, report = run([synth("syn.hang", 1, hang), synth("syn.later", 2, ok)], config(concurrency=1, timeout=0.3))
    hang_r, later_r = report.checks
    assert hang_r.status == CheckStatus.error and "global deadline" in hang_r.summary
    assert later_r.status == CheckStatus.skipped and "global deadline" in later_r.summary


def test_unknown_paths_and_strict_exit() -> None:
    def cannot(ctx: CheckContext) -> Iterator[Finding]:
        ctx.unknown("no .env given", unlock="--env-file")
        return

    def partial(ctx: CheckContext) -> Iterator[Finding]:
        ctx.unknown("half of it could not run", unlock="ecs:DescribeTasks")
        yield from ok(ctx)

    checks = [synth("syn.cannot", 1, cannot), synth("syn.partial", 2, partial), synth("syn.ok", 3, ok)]
    _, report = run(checks)
    assert [c.status for c in report.checks] == [CheckStatus.unknown, CheckStatus.unknown, CheckStatus.passed]
    assert report.checks[0].unlock == "--env-file" and report.checks[1].unlock == "ecs:DescribeTasks"
    assert report.exit_code == 0 and report.status == RunStatus.degraded  # unknowns beside evidence: lenient
    _, strict = run(checks, config(strict=True))
    assert strict.exit_code == 1
    # without the one check that saw something, the run gathered no evidence: never healthy, never 0
    engine, blind = run(checks[:2])
    assert blind.exit_code == 3 and blind.status == RunStatus.unknown
    assert "no check gathered evidence (2 unknown" in (engine.why_cannot_run(blind) or "")


def test_fail_on_threshold() -> None:
    def warns(ctx: CheckContext) -> Iterator[Finding]:
        yield ctx.finding("w", "res")

    _, report = run([synth("syn.w", 1, warns)])
    assert report.checks[0].status == CheckStatus.warn and report.exit_code == 0
    assert report.status == RunStatus.degraded
    _, report = run([synth("syn.w", 1, warns)], config(fail_on="warning"))
    assert report.exit_code == 1


def test_async_generator_and_coroutine_checks() -> None:
    async def agen(ctx: CheckContext) -> Any:
        await asyncio.sleep(0.01)
        yield ctx.finding("e", "r1")

    async def coro(ctx: CheckContext) -> list[Finding]:
        await asyncio.sleep(0.01)
        return [ctx.finding("ok", "r2")]

    _, report = run([synth("syn.agen", 1, agen), synth("syn.coro", 2, coro)])
    assert report.check("syn.agen").status == CheckStatus.fail
    assert report.check("syn.agen").findings[0].uid == "syn.agen:e:r1"
    assert report.check("syn.coro").status == CheckStatus.passed
    assert report.exit_code == 1


def test_event_stream_order() -> None:
    async def collect() -> list[Any]:
        engine = Engine(config(), [synth("syn.a", 1, ok), synth("syn.b", 2, ok)], EngineOptions(diagnose=False))
        return [e async for e in engine.events()]

    events = asyncio.run(collect())
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished"
    assert isinstance(events[0], RunStarted) and [m.id for m in events[0].checks] == ["syn.a", "syn.b"]
    for cid in ("syn.a", "syn.b"):
        idx = [i for i, e in enumerate(events)
               if getattr(e, "check_id", None) == cid or (isinstance(e, CheckFinished) and e.result.id == cid)]
        assert [type(events[i]) for i in idx] == [CheckStarted, FindingEmitted, CheckFinished]
    assert isinstance(events[-1], RunFinished) and events[-1].report.summary.passed == 2


def test_only_skip_and_priority() -> None:
    started: list[str] = []
    checks = [synth(f"syn.c{i}", i, ok) for i in range(1, 5)]
    engine = Engine(config(concurrency=1), checks,
                    EngineOptions(skip=["syn.c2"], priority=["syn.c4"], diagnose=False))
    engine.subscribe(lambda e: started.append(e.check_id) if isinstance(e, CheckStarted) else None)
    report = asyncio.run(engine.run())
    assert started == ["syn.c4", "syn.c1", "syn.c3"]
    assert [c.id for c in report.checks] == ["syn.c1", "syn.c3", "syn.c4"]
    _, only = run(checks, only=["syn.c3"])
    assert [c.id for c in only.checks] == ["syn.c3"]


def test_secret_in_finding_is_scrubbed_by_engine() -> None:
    def leaky(ctx: CheckContext) -> Iterator[Finding]:
        ctx.redactor.add_secret("hunter2-very-secret")
        yield ctx.finding("leak", "r", text="hunter2-very-secret",
                          evidence={"DB_PASSWORD": "anything", "url": "redis://:pw-in-url@h:6379"})

    _, report = run([synth("syn.leak", 1, leaky)])
    text = report.to_json()
    assert "hunter2-very-secret" not in text and "pw-in-url" not in text and "anything" not in text


# --- AWS: access denied, facts once ------------------------------------------------------------
def test_access_denied_becomes_unknown_naming_iam_action(moto_session: Any) -> None:
    from botocore.stub import Stubber

    engine = Engine(config(), [], EngineOptions(diagnose=False))
    ec2 = engine.aws.client("ec2")
    stub = Stubber(ec2)
    stub.add_client_error("describe_security_groups", service_error_code="UnauthorizedOperation",
                          service_message="You are not authorized to perform this operation.", http_status_code=403)
    stub.activate()

    def sg(ctx: CheckContext) -> Iterator[Finding]:
        ctx.aws.client("ec2").describe_security_groups()
        return iter(())

    engine.checks = [synth("syn.sg", 1, sg)]
    report = asyncio.run(engine.run())
    r = report.check("syn.sg")
    assert r.status == CheckStatus.unknown
    assert r.unlock == "ec2:DescribeSecurityGroups"
    assert "ec2:DescribeSecurityGroups" in r.summary


def test_shared_facts_fetched_once(world: Any) -> None:
    """Many checks asking for the same facts cause one fetch per fact."""

    def uses_facts(ctx: CheckContext) -> Iterator[Finding]:
        ctx.facts.ssm_values()
        for svc in ctx.facts.services():
            ctx.facts.service_task_definition(svc)
            ctx.facts.tasks(svc, "RUNNING")
        yield from ok(ctx)

    alone, _ = run([synth("syn.f0", 1, uses_facts)])
    many, report = run([synth(f"syn.f{i}", i + 1, uses_facts) for i in range(6)], config(concurrency=6))
    assert all(c.status == CheckStatus.passed for c in report.checks)
    counts = Counter(many.aws.calls)
    assert counts == Counter(alone.aws.calls)
    assert counts[("ssm", "GetParametersByPath")] >= 1
    assert counts[("ecs", "DescribeServices")] == 1
    assert counts[("ecs", "DescribeTaskDefinition")] == len(world.services)


def test_facts_failure_is_remembered(moto_session: Any) -> None:
    """A fact that failed is not re-fetched by every check (a denied call is made once)."""
    from botocore.stub import Stubber

    engine = Engine(config(), [], EngineOptions(diagnose=False))
    stub = Stubber(engine.aws.client("ssm"))
    stub.add_client_error("get_parameters_by_path", service_error_code="AccessDeniedException",
                          service_message="User: arn:aws:iam::123456789012:user/x is not authorized to perform: "
                          "ssm:GetParametersByPath on resource: arn", http_status_code=400)
    stub.activate()

    def reads(ctx: CheckContext) -> Iterator[Finding]:
        ctx.facts.ssm_values()
        return iter(())

    engine.checks = [synth(f"syn.r{i}", i + 1, reads) for i in range(3)]
    report = asyncio.run(engine.run())
    assert [c.status for c in report.checks] == [CheckStatus.unknown] * 3
    assert all(c.unlock == "ssm:GetParametersByPath" for c in report.checks)
    assert Counter(engine.aws.calls)[("ssm", "GetParametersByPath")] == 1


@pytest.mark.parametrize("code", ["Throttling", "ThrottlingException"])
def test_throttling_is_retried(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A throttled SSM call is retried by botocore and succeeds (a local endpoint answers 2x throttle, then OK)."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hits.append(self.headers.get("X-Amz-Target", ""))
            if len(hits) <= 2:
                body, status = {"__type": code, "message": "Rate exceeded"}, 400
            else:
                body, status = {"Parameters": [{"Name": "/propertyfeedtemplate/production/APP_NAME",
                                                "Type": "String", "Value": "pft"}]}, 200
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        def reads(ctx: CheckContext) -> Iterator[Finding]:
            assert ctx.facts.ssm_values() == {"APP_NAME": "pft"}
            yield from ok(ctx)

        engine, report = run([synth("syn.ssm", 1, reads)])
    finally:
        server.shutdown()
    assert report.check("syn.ssm").status == CheckStatus.passed, report.check("syn.ssm").summary
    assert [h for h in hits if h.startswith("AmazonSSM")] == ["AmazonSSM.GetParametersByPath"] * 3


def test_the_facts_checks_read_are_fetched_ahead_probes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the selected checks declare in ``reads`` is fetched as the run starts: every service's probe is
    under way (its transport's reads done) before any check starts, the other facts only after; a fact no
    selected check reads is never fetched."""
    from doctor.probe import runner, transports

    log: list[str] = []
    lock = threading.Lock()

    def note(what: str) -> None:
        with lock:
            log.append(what)

    class Prepared(transports.LocalTransport):
        def prepare(self, facts: Any, service: str) -> None:
            time.sleep(0.2)  # AWS reads: the checks would be well under way without the wait for the launch
            note(f"prepare {service}")

    monkeypatch.setitem(transports.TRANSPORTS, "local", Prepared)
    monkeypatch.setattr(runner, "probe_service", lambda facts, service: note(f"probe {service}"))
    monkeypatch.setattr("doctor.facts.core.Facts.ssm_parameters", lambda self: note("ssm") or {})
    monkeypatch.setattr("doctor.facts.core.Facts.services", lambda self: note("services") or {})

    def reader(ctx: CheckContext) -> Iterator[Finding]:
        note(f"check {ctx.meta.id}")
        yield ctx.finding("ok", "x")

    cfg = Config(aws={"region": "eu-west-1"}, exec={"transport": "local"},
                 queues={"sync": {"service": "svc-sync"}, "image": {"service": "svc-image"}})
    engine, report = run([synth("syn.probe", 1, reader, reads=("probe",)), synth("syn.ssm", 2, reader, reads=("ssm",))],
                         cfg)
    engine.prefetch.settle()
    assert report.summary.passed == 2
    first_check = min(log.index("check syn.probe"), log.index("check syn.ssm"))
    assert {"prepare svc-sync", "prepare svc-image"} <= set(log[:first_check])
    assert log.index("ssm") > max(log.index("prepare svc-sync"), log.index("prepare svc-image"))
    assert sorted(e for e in log if e.startswith("probe ")) == ["probe svc-image", "probe svc-sync"]
    assert "services" not in log  # no selected check reads it
