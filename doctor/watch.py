"""``ame-doctor watch``: the soak window, observed.

Every ``--interval`` seconds for ``--duration`` seconds it re-runs the cheap checks (service counts and
deployments, stopped tasks and startup logs, queue depths) and shows per queue the backlog trend, drain
rate, time to empty, restarts and new error signatures. It ends with a soak verdict against the runbook's
healthy state and the matching exit code (0 healthy soak, 1 not).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from doctor import __version__
from doctor.gate import CONNECTIVITY_PREFIXES, FAILING_QUEUE_SIGNALS, QueueView

WATCH_SCHEMA_VERSION = 1
WATCH_CHECKS = ("ecs.service", "ecs.startup", "queue.state")


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: str
    elapsed_s: float
    backlog: int | None
    running: int
    desired: int
    steady: bool
    stopped_in_window: int
    signals: list[str] = Field(default_factory=list)


class QueueSoak(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue: str
    service: str
    samples: list[Sample] = Field(default_factory=list)
    drain_rate_per_min: float | None = None
    time_to_empty_s: float | None = None
    restarts: int = 0
    new_errors: list[str] = Field(default_factory=list)
    verdicts: dict[str, bool] = Field(default_factory=dict)
    healthy: bool = False


class SoakResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: int = WATCH_SCHEMA_VERSION
    tool: dict[str, str] = Field(default_factory=lambda: {"name": "ame-doctor", "version": __version__})
    cluster: str
    started_at: str
    finished_at: str | None = None
    interval_s: float
    duration_s: float
    queues: list[QueueSoak]
    healthy: bool = False


def _sample(view: QueueView, elapsed: float) -> Sample:
    return Sample(at=datetime.now(UTC).isoformat(), elapsed_s=round(elapsed, 3),
                  backlog=view.backlog if view.backlog_known else None, running=view.running, desired=view.desired,
                  steady=view.steady, stopped_in_window=view.stopped_in_window, signals=sorted(view.signals))


def summarise(q: QueueSoak, restart_storm: int) -> None:
    """Trend, restarts, new errors, and the five soak verdicts for one queue."""
    known = [s for s in q.samples if s.backlog is not None]
    if len(known) >= 2 and known[-1].elapsed_s > known[0].elapsed_s:
        minutes = (known[-1].elapsed_s - known[0].elapsed_s) / 60
        q.drain_rate_per_min = round((known[0].backlog - known[-1].backlog) / minutes, 2)  # type: ignore[operator]
        if q.drain_rate_per_min > 0 and known[-1].backlog:
            q.time_to_empty_s = round(known[-1].backlog / q.drain_rate_per_min * 60, 1)
        elif known[-1].backlog == 0:
            q.time_to_empty_s = 0.0
    first = set(q.samples[0].signals) if q.samples else set()
    seen: set[str] = set()
    for s in q.samples[1:]:
        seen.update(s.signals)
    q.new_errors = sorted(x for x in seen - first if not x.endswith(("_ok", ".ok", ".steady", ".draining")))
    q.restarts = max((s.stopped_in_window for s in q.samples), default=0) - (q.samples[0].stopped_in_window if q.samples else 0)
    last = q.samples[-1] if q.samples else None
    all_signals = first | seen
    backlog_down = bool(known) and (known[-1].backlog == 0 or (q.drain_rate_per_min or 0) > 0)
    q.verdicts = {
        "steady state reached": bool(last and last.steady),
        "no restart storm": (last.stopped_in_window if last else 0) < restart_storm,
        "jobs not failing in loops": not (all_signals & FAILING_QUEUE_SIGNALS),
        "backlog trending down": backlog_down,
        "no fresh connectivity errors": not any(x.startswith(CONNECTIVITY_PREFIXES) for x in q.new_errors),
    }
    q.healthy = all(q.verdicts.values())


def tick_line(t: float, views: dict[str, QueueView], soaks: dict[str, QueueSoak]) -> str:
    parts = []
    for name, v in views.items():
        q = soaks[name]
        summarise(q, 10**9)
        rate = f"{q.drain_rate_per_min:+.1f}/min" if q.drain_rate_per_min is not None else "rate ?"
        backlog = v.backlog if v.backlog_known else "?"
        parts.append(f"{name}: backlog {backlog} ({rate}) {v.running}/{v.desired} restarts {q.restarts}"
                     + (f" new: {','.join(q.new_errors)}" if q.new_errors else ""))
    return f"[{t:6.0f}s] " + " | ".join(parts)


Sampler = Callable[[], dict[str, QueueView]]


def watch(sampler: Sampler, cluster: str, interval: float, duration: float, restart_storm: int,
          on_tick: Callable[[float, dict[str, QueueView], dict[str, QueueSoak]], None] | None = None,
          sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
          stopped: Callable[[], bool] = lambda: False) -> SoakResult:
    start = clock()
    result = SoakResult(cluster=cluster, started_at=datetime.now(UTC).isoformat(), interval_s=interval,
                        duration_s=duration, queues=[])
    soaks: dict[str, QueueSoak] = {}
    while True:
        elapsed = clock() - start
        views = sampler()
        for name, v in views.items():
            q = soaks.setdefault(name, QueueSoak(queue=name, service=v.service))
            q.samples.append(_sample(v, elapsed))
        if on_tick:
            on_tick(elapsed, views, soaks)
        if elapsed + interval > duration or stopped():
            break
        sleep(max(0.0, interval - (clock() - start - elapsed)))
    for q in soaks.values():
        summarise(q, restart_storm)
    result.queues = list(soaks.values())
    result.healthy = bool(soaks) and all(q.healthy for q in soaks.values())
    result.finished_at = datetime.now(UTC).isoformat()
    return result


def engine_sampler(config: Any, checks: list[Any], argv: list[str]) -> tuple[Sampler, Any]:
    """Each call runs the cheap checks with fresh facts and turns the report into queue views."""
    import asyncio

    from doctor.engine import Engine, EngineOptions
    from doctor.gate import build_views
    from doctor.redact import Redactor

    redactor = Redactor(config.ssm.secret_keys)
    only = [c.id for c in checks if c.id in WATCH_CHECKS]

    def sample() -> dict[str, QueueView]:
        engine = Engine(config, checks, EngineOptions(only=only, argv=argv, diagnose=False), redactor=redactor)
        report = asyncio.run(engine.run())
        return build_views(report, engine.facts, config)

    return sample, redactor


def render_summary(r: SoakResult) -> str:
    lines = ["", f"Soak verdict for {r.cluster}: {'HEALTHY' if r.healthy else 'NOT HEALTHY'}"]
    for q in r.queues:
        last = q.samples[-1] if q.samples else None
        tte = f"{q.time_to_empty_s:.0f}s" if q.time_to_empty_s is not None else "n/a"
        lines.append(f"  {q.queue} ({q.service}): backlog {last.backlog if last else '?'}, drain "
                     f"{q.drain_rate_per_min if q.drain_rate_per_min is not None else '?'}/min, empty in {tte}, "
                     f"restarts {q.restarts}, new errors {', '.join(q.new_errors) or 'none'}")
        for name, ok in q.verdicts.items():
            lines.append(f"      [{'ok' if ok else 'NO'}] {name}")
    return "\n".join(lines) + "\n"


def cmd_watch(args: argparse.Namespace, argv: list[str]) -> int:
    from doctor.cli import load_config_from_args, parse_outputs, select_checks, write_file

    if args.interval <= 0 or args.duration <= 0:
        print("ame-doctor: error: --interval and --duration must be positive", file=sys.stderr)
        return 2
    config = load_config_from_args(args)
    checks, _, _ = select_checks(args)
    sampler, redactor = engine_sampler(config, checks, ["ame-doctor", *argv])
    interactive = sys.stdout.isatty() and sys.stdin.isatty() and not args.headless
    if interactive:
        try:
            from doctor.tui.watch_view import run_watch_tui
        except ImportError:
            interactive = False
        else:
            result = run_watch_tui(sampler, config, args.interval, args.duration)
    if not interactive:
        def printer(t: float, views: dict[str, QueueView], soaks: dict[str, QueueSoak]) -> None:
            print(redactor.scrub(tick_line(t, views, soaks)), flush=True)

        result = watch(sampler, config.ecs.cluster, args.interval, args.duration, config.run.restart_storm, printer)
    if args.format == "json":
        sys.stdout.write(redactor.scrub(result.model_dump_json(indent=2)) + "\n")
    else:
        sys.stdout.write(redactor.scrub(render_summary(result)))
    for _, path in parse_outputs(args.output, "json"):
        write_file(path, redactor.scrub(result.model_dump_json(indent=2)) + "\n")
        print(f"ame-doctor: wrote soak result to {path}", file=sys.stderr)
    return 0 if result.healthy else 1


def register(sub: Any, add_run_options: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("watch", help="observe the soak window: backlog trend, drain rate, restarts, new errors",
                       description="Repeat the cheap checks and end with a soak verdict (exit 0 healthy, 1 not).")
    add_run_options(p)
    p.add_argument("--interval", type=float, default=30.0, help="seconds between samples (default 30)")
    p.add_argument("--duration", type=float, default=900.0, help="seconds to watch (default 900 = the soak window)")
    p.add_argument("--headless", action="store_true", help="print one line per interval even on a terminal")
    p.set_defaults(handler=cmd_watch)
