"""``ame-doctor watch``: the soak window, observed.

Every ``--interval`` seconds for ``--duration`` seconds it re-runs the cheap checks (service counts and
deployments, stopped tasks and startup logs, queue depths) and shows per queue the backlog trend, drain
rate, time to empty, restarts and new error signals: one line per sample, or the live view on a
terminal. It ends with the soak verdict — steady state reached (a queue held at 0 is idle, in range), no
restart storm, jobs not failing in loops (on failure evidence only), backlog trending down (or small and
flat with live consumers and completions; idle at 0 with a backlog is the finding), no fresh connectivity
errors, controller not failing — each with why, and its exit code (0 healthy soak, 1 not).

The checks of a sample run concurrently, and the facts they share (each service's description, tasks,
stopped tasks, task definition) are fetched concurrently ahead of them: one sample costs about its slowest
AWS call path, not the sum of them.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from doctor.commands.options import add_run_options

if TYPE_CHECKING:
    from doctor.config import Config
    from doctor.facts.core import Facts
    from doctor.redact import Redactor
    from doctor.rollout.soak import Sampler
    from doctor.runspec import RunSpec

HELP = "observe the soak window: backlog trend, drain rate, restarts, new errors"
DESCRIPTION = "Repeat the cheap checks and end with a soak verdict (exit 0 healthy, 1 not)."
# the cheap checks: one sample each interval (the optional integrations are skipped when not configured)
WATCH_CHECKS = ("ecs.service", "ecs.startup", "queue.state", "sentry.errors", "scaler.controller")
INTERVAL = (0.1, 3600.0)  # seconds: finite, never a tight loop against AWS
DURATION = (0.1, 86400.0)


class NoData(Exception):
    """A sample gathered nothing (AWS unreachable, no evidence): the soak cannot be judged; exit 3."""


def register(p: argparse.ArgumentParser) -> None:
    add_run_options(p)
    p.add_argument("--interval", type=float, default=30.0,
                   help=f"seconds between samples, {INTERVAL[0]:g}..{INTERVAL[1]:g} (default 30)")
    p.add_argument("--duration", type=float, default=900.0,
                   help=f"seconds to watch, up to {DURATION[1]:g} (default 900 = the soak window)")
    p.add_argument("--headless", action="store_true", help="print one line per interval even on a terminal")


def engine_sampler(spec: RunSpec) -> tuple[Sampler, Redactor]:
    """Each call runs the cheap checks with fresh facts and turns the report into queue views.

    Only the cheap checks run, whatever ``--only``/``--skip`` say; one redactor serves every sample.
    """
    import asyncio
    import dataclasses

    from doctor.redact import Redactor
    from doctor.rollout.views import QueueView, build_views

    redactor = Redactor(spec.config.ssm.secret_keys)
    cheap = dataclasses.replace(spec, only=tuple(c.id for c in spec.checks if c.id in WATCH_CHECKS), skip=(),
                                priority=())

    def sample() -> dict[str, QueueView]:
        engine = cheap.engine(diagnose=False, redactor=redactor)
        with prefetch(engine.facts, spec.config) as fetching:
            report = asyncio.run(engine.run())
            why = engine.why_cannot_run(report)
            if why:  # AWS silent or refusing: leave the fetches still waiting on it, report at once
                fetching.abandon()
        if why:
            raise NoData(why)
        return build_views(report, engine.facts, spec.config)

    return sample, redactor


class Fetching:
    """The prefetch threads of one sample (daemon threads: an abandoned one never holds the process)."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.abandoned = False

    def submit(self, call: Callable[[], object]) -> None:
        def quiet() -> None:
            with contextlib.suppress(Exception):  # remembered by the facts: the check meets it and reports it
                call()

        t = threading.Thread(target=quiet, name="watch-prefetch", daemon=True)
        self.threads.append(t)
        t.start()

    def abandon(self) -> None:
        self.abandoned = True

    def settle(self) -> None:
        """Wait for every fetch, those started by other fetches too: none outlives the sample."""
        while not self.abandoned and any(t.is_alive() for t in self.threads):
            for t in list(self.threads):
                t.join()


@contextlib.contextmanager
def prefetch(facts: Facts, config: Config) -> Iterator[Fetching]:
    """While the checks of a sample run, fetch the facts they read concurrently: the services, each service's
    running and stopped tasks and task definition, the SSM parameters and, for a Lambda controller, its function,
    trigger, metrics, log lines, subnets' path to ECS and the Redis security groups (scaler.controller starts
    after queue.state and would read them one after the other). The checks read them through the same memo (a
    fetch in flight is waited for, a failure is remembered for the check as if it had made the call), so a
    sample costs its slowest call path instead of the sum of each check's calls. On leaving, the fetches are
    waited for (by then the checks needed every one), unless the sample was abandoned (no data)."""
    from doctor.facts import scaler as sf
    from doctor.facts.datastores import redis_store, store_via_chain
    from doctor.facts.security_groups import security_groups

    fetching = Fetching()
    submit = fetching.submit

    def per_service(service: str) -> None:
        facts.services()
        submit(lambda: facts.tasks(service, "RUNNING"))
        submit(lambda: facts.tasks(service, "STOPPED"))
        facts.service_task_definition(service)

    def controller() -> None:
        cfg = config.scaler
        fn = sf.lambda_function(facts, cfg.function or "")
        if not fn:
            return
        name, arn = str(fn.get("FunctionName", cfg.function)), str(fn.get("FunctionArn", cfg.function))
        since, until = sf.window(facts)
        submit(lambda: sf.triggers(facts, arn, cfg.rule))
        submit(lambda: sf.lambda_metrics(facts, name, since, until))
        submit(lambda: sf.lambda_log_lines(facts, name, since))
        subnet_ids = list((fn.get("VpcConfig") or {}).get("SubnetIds") or [])
        if subnet_ids:
            submit(lambda: [sf.path_from(facts, s, "ecs") for s in sf.subnets(facts, subnet_ids).values()])
            submit(redis_groups)

    def redis_groups() -> None:
        host = facts.redis_target().host
        store = store_via_chain(facts, host, lambda h: redis_store(facts, h)) if host else None
        if store is not None and store.sgs:
            security_groups(facts, store.sgs)

    try:
        submit(facts.ssm_parameters)
        for service in [q.service for q in config.queues.values()]:
            submit(functools.partial(per_service, service))
        if config.scaler.kind == "lambda" and config.scaler.function:
            submit(controller)
        yield fetching
    finally:
        fetching.settle()


def main(args: argparse.Namespace, argv: list[str]) -> int:
    import sys

    from doctor.model import EXIT_CANNOT_RUN, EXIT_FINDINGS, EXIT_OK
    from doctor.outputs import write_file
    from doctor.rollout.render import render_soak, tick_line
    from doctor.rollout.soak import QueueSoak, SoakResult, watch
    from doctor.rollout.views import QueueView
    from doctor.runspec import bounded_number, build_run_spec

    bounded_number("--interval", args.interval, *INTERVAL)
    bounded_number("--duration", args.duration, *DURATION)
    spec = build_run_spec(args, argv, output_default="json", validate_inputs=False)
    config = spec.config
    sampler, redactor = engine_sampler(spec)
    result: SoakResult | None = None
    try:
        if sys.stdout.isatty() and sys.stdin.isatty() and not args.headless:
            try:
                from doctor.tui.watch_view import run_watch_tui  # Textual: imported only for a terminal
            except ImportError:
                pass  # no Textual in this build: headless lines instead
            else:
                result = run_watch_tui(sampler, config, args.interval, args.duration)
        if result is None:
            def printer(t: float, views: dict[str, QueueView], soaks: dict[str, QueueSoak]) -> None:
                print(redactor.scrub_output(tick_line(t, views, soaks), "text"), flush=True)

            result = watch(sampler, config.ecs.cluster, args.interval, args.duration, config.run.restart_storm,
                           printer)
    except NoData as e:  # never a verdict on nothing
        print(f"ame-doctor: cannot run: watch has no data: {redactor.scrub(str(e))}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    sys.stdout.write(redactor.scrub_output(render_soak(result, spec.fmt), spec.fmt))
    for _, path in spec.outputs:
        write_file(path, redactor.scrub_output(render_soak(result, "json"), "json"))
        print(f"ame-doctor: wrote soak result to {path}", file=sys.stderr)
    return EXIT_OK if result.healthy else EXIT_FINDINGS
