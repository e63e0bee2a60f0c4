"""``ame-doctor gate``: the platform's scaling and cutover rules, enforced before anyone scales.

The gate never changes anything. It runs the checks and the diagnosis, builds one view per queue (service
counts, deployments, health, backlog, the root causes a new task would meet), names each request's kind
(wake / widen / drain, see :mod:`doctor.rollout.rules`), evaluates every rule, and answers allow or deny
with each rule's verdict and evidence — and, when allowed, the exact ``aws ecs update-service`` command.
Exit 0 allow, 1 deny, 2 usage, 3 no data: when AWS cannot be reached, the ECS services cannot be read or
no check gathered evidence, the gate refuses (deny) without evaluating its rules.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from doctor.commands.options import add_run_options

if TYPE_CHECKING:
    from doctor.engine import Engine
    from doctor.model import Report
    from doctor.rollout.rules import GateDecision, GateRequest
    from doctor.runspec import RunSpec

HELP = "decide whether a scale change or cutover step is safe (never performs it)"
DESCRIPTION = ("Enforce the platform's scaling rules before anyone scales. Exit 0 allow, 1 deny, 2 usage, "
               "3 no data (refused: AWS unreachable or the services unreadable).")


def register(p: argparse.ArgumentParser) -> None:
    add_run_options(p)
    g = p.add_argument_group("the change to decide")
    g.add_argument("--scale", action="append", default=[], metavar="QUEUE=COUNT", help="e.g. image=2, bulk=0")
    g.add_argument("--release-host-consumers", action="append", default=[], metavar="QUEUE",
                   help="the last cutover step: stop the app hosts consuming QUEUE")
    g.add_argument("--override-range", action="store_true", help="allow a count outside [queues.X] scale (needs --reason)")
    g.add_argument("--reason", help="why the override is needed (recorded)")
    g.add_argument("--soak-minutes", type=int, help="soak window, 0..1440 (default [run] soak_minutes, 15)")


def parse_scale(values: list[str], queues: dict[str, Any]) -> dict[str, int]:
    """``--scale QUEUE=COUNT`` values -> {queue: count}; only the config's heavy queues, COUNT 0..MAX_TASKS."""
    from doctor.config import MAX_TASKS
    from doctor.errors import UsageError

    out: dict[str, int] = {}
    for item in values:
        name, sep, count = item.partition("=")
        count = count.strip()
        if not sep or not (count.isascii() and count.isdigit()) or len(count) > 6 or int(count) > MAX_TASKS:
            raise UsageError(f"--scale takes QUEUE=COUNT with COUNT a whole number 0..{MAX_TASKS} (e.g. image=2), "
                             f"got {item[:60]!r}")
        if name not in queues:
            hint = " ('default' stays on the app hosts)" if name == "default" else ""
            raise UsageError(f"unknown queue {name!r}{hint}; heavy queues: {', '.join(queues)}")
        out[name] = int(count)
    return out


def build_request(args: argparse.Namespace, spec: RunSpec) -> GateRequest:
    """The change asked for, validated against the config's queues (bad input: UsageError)."""
    from doctor.errors import UsageError
    from doctor.rollout.rules import GateRequest

    queues = spec.config.queues
    scale = parse_scale(args.scale, queues)
    release = []
    for q in args.release_host_consumers:
        if q not in queues:
            raise UsageError(f"unknown queue {q!r}; heavy queues: {', '.join(queues)}")
        release.append(q)
    if not scale and not release:
        raise UsageError("nothing to decide: give --scale QUEUE=COUNT or --release-host-consumers QUEUE")
    if args.override_range and not (args.reason or "").strip():
        raise UsageError("--override-range needs --reason \"why\" (it is recorded in the decision)")
    # --soak-minutes was validated as [run] soak_minutes (the config holds the flag's value)
    return GateRequest(scale=scale, release_host_consumers=release, override_range=args.override_range,
                       reason=args.reason, soak_minutes=spec.config.run.soak_minutes)


def decide(spec: RunSpec, request: GateRequest) -> tuple[GateDecision, Engine]:
    """Run the checks (every one, or the --only/--skip selection: the root causes a wake is judged on need them
    all) without the timeline, build the queues' views and evaluate the rules."""
    import asyncio
    from datetime import UTC, datetime

    from doctor.rollout.rules import GateDecision, changes, evaluate
    from doctor.rollout.views import build_views

    selected = [c.id for c in spec.checks if (not spec.only or c.id in spec.only) and c.id not in spec.skip]
    engine = spec.engine(selected)  # an explicit selection: no timeline, which the rules do not read
    report = asyncio.run(engine.run())
    unreadable = no_data(engine, report)  # first: with AWS unreachable, reading the views would wait on the
    views = {} if unreadable else build_views(report, engine.facts, spec.config)  # checks' stuck calls
    now = datetime.now(UTC)
    cluster = spec.config.ecs.cluster
    allowed, rules, commands = evaluate(request, views, now, cluster, unreadable=unreadable)
    decision = GateDecision(decided_at=now.isoformat(), cluster=cluster, request=request, allowed=allowed,
                            changes=changes(request, views) if views else [], rules=rules, commands=commands,
                            report_run_id=report.run.id,
                            override_reason=request.reason if request.override_range else None)
    return decision, engine


def no_data(engine: Engine, report: Report) -> str | None:
    """Why the gate has nothing to decide on (AWS unreachable, the services unreadable, no evidence), else None."""
    why = engine.why_cannot_run(report)
    if why:
        return why
    try:
        engine.facts.services()
    except Exception as e:  # remembered by the facts: the checks saw the same failure
        return f"the ECS services could not be read: {type(e).__name__}: {e}"
    return None


def main(args: argparse.Namespace, argv: list[str]) -> int:
    import sys

    from doctor.model import EXIT_CANNOT_RUN, EXIT_FINDINGS, EXIT_OK
    from doctor.outputs import write_file
    from doctor.rollout.render import DECISION_FORMATS, render_decision
    from doctor.runspec import build_run_spec

    spec = build_run_spec(args, argv, output_default="json", validate_inputs=False)
    decision, engine = decide(spec, build_request(args, spec))
    fmt = spec.fmt if spec.fmt in DECISION_FORMATS else "text"
    sys.stdout.write(engine.redactor.scrub_output(render_decision(decision, fmt), fmt))
    for out_fmt, path in spec.outputs:
        write_file(path, engine.redactor.scrub_output(render_decision(decision, out_fmt), out_fmt))
        print(f"ame-doctor: wrote {out_fmt} decision to {path}", file=sys.stderr)
    refusal = next((r for r in decision.rules if r.id == "data-available" and r.verdict == "fail"), None)
    if refusal is not None:
        print(f"ame-doctor: gate refused: no data to decide on: {engine.redactor.scrub(refusal.evidence['reason'])}",
              file=sys.stderr)
        return EXIT_CANNOT_RUN
    return EXIT_OK if decision.allowed else EXIT_FINDINGS
