"""``ame-doctor watch``: the soak window, observed.

Every ``--interval`` seconds for ``--duration`` seconds it re-runs the cheap checks (service counts and
deployments, stopped tasks and startup logs, queue depths) and shows per queue the backlog trend, drain
rate, time to empty, restarts and new error signals: one line per sample, or the live view on a
terminal. It ends with the soak verdict — steady state reached (a queue held at 0 is idle, in range), no
restart storm, jobs not failing in loops (on failure evidence only), backlog trending down (or small and
flat with live consumers and completions; idle at 0 with a backlog is the finding), no fresh connectivity
errors, controller not failing — each with why, and its exit code (0 healthy soak, 1 not).

The checks of a sample run concurrently, and the facts they share (each service's description, tasks,
stopped tasks, task definition, the controller's) are fetched concurrently ahead of them by the engine
(doctor.prefetch): one sample costs about its slowest AWS call path, not the sum of them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from doctor.commands.options import add_run_options

if TYPE_CHECKING:
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
        report = asyncio.run(engine.run())  # the facts the checks share are fetched ahead (doctor.prefetch)
        why = engine.why_cannot_run(report)
        if not why:  # none outlives the sample; with AWS silent or refusing they would only wait on it
            engine.prefetch.settle()
        if why:
            raise NoData(why)
        return build_views(report, engine.facts, spec.config)

    return sample, redactor


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
