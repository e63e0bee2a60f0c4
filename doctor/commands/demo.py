"""``ame-doctor demo [SCENARIO]``: the real engine and the real checks against a simulated production.

The simulated production runs in-process and on loopback (see :mod:`doctor.sim.scenarios`): moto for
AWS, a real redis-server (else fakeredis's TCP server), a real MariaDB for Aurora, a DNS responder
for the endpoints, and the in-task probe through the ``local`` transport. Each scenario injects one
fault; the findings and the diagnosis come from the checks. Interactive (the TUI) on a terminal,
headless otherwise. Needs the ``demo`` extra (moto): ``pip install 'ame-doctor[demo]'``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doctor.commands.options import REPORT_FORMATS, add_run_options

HELP = "see the doctor work with no AWS account: a simulated production with one injected fault"
DESCRIPTION = ("Run the real checks against a simulated production on this machine (moto for AWS, "
               "redis-server or fakeredis, MariaDB for Aurora, a DNS responder, the local probe). SCENARIO injects "
               "one fault (default: healthy); --list names them. Interactive on a terminal, headless otherwise.")


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", nargs="?", default="healthy", metavar="SCENARIO", help="see --list (default healthy)")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--headless", action="store_true", help="no TUI even on a terminal")
    p.add_argument("--format", choices=REPORT_FORMATS, default="text",
                   help="headless stdout format (default text)")
    p.add_argument("--output", action="append", default=[], metavar="[FORMAT=]PATH",
                   help="also write the report to PATH (repeatable)")
    p.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    p.add_argument("--gate", action="append", default=[], metavar="QUEUE=COUNT",
                   help="then decide this scale change with `ame-doctor gate` on the same simulated world (its "
                        "decision follows the report; the exit code is the gate's), e.g. --gate bulk=1")


def listing() -> str:
    from doctor.sim.scenarios import SCENARIOS

    lines = ["Scenarios (ame-doctor demo SCENARIO):"]
    for s in SCENARIOS.values():
        where = f"{s.playbook} / {s.cause}" if s.cause else "no fault"
        lines.append(f"  {s.name:<28} {where}")
        lines.append(f"  {'':<28} {s.description}")
    return "\n".join(lines) + "\n"


def main(args: argparse.Namespace, argv: list[str]) -> int:
    from doctor.errors import UsageError
    from doctor.model import EXIT_CANNOT_RUN, EXIT_OK

    try:
        from doctor.sim import scenarios as sc
    except ImportError as e:  # pragma: no cover - the sim imports only dnspython/boto3 at module level
        print(f"ame-doctor: cannot run the demo: {e}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    if args.list:
        sys.stdout.write(listing())
        return EXIT_OK
    if args.scenario not in sc.SCENARIOS:
        raise UsageError(f"unknown scenario {args.scenario!r}; scenarios: {', '.join(sc.SCENARIOS)}")
    try:
        import moto  # noqa: F401
    except ImportError:
        print("ame-doctor: cannot run the demo: it needs moto (pip install 'ame-doctor[demo]')", file=sys.stderr)
        return EXIT_CANNOT_RUN
    scenario = sc.SCENARIOS[args.scenario]
    gate_scale: list[str] = getattr(args, "gate", None) or []
    if gate_scale:
        from doctor.commands.gate import parse_scale
        from doctor.config import Config

        parse_scale(gate_scale, Config().queues)  # the simulated world has the default queues: bad input exits 2 now
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not args.headless

    def progress(msg: str) -> None:
        print(f"ame-doctor demo: {msg}", file=sys.stderr, flush=True)

    import signal

    def terminate(signum: int, frame: Any) -> None:  # SIGTERM: stop the servers we started, like Ctrl-C
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, terminate)
    # the simulated app root, .env and report live here; removed however the demo ends (error, Ctrl-C)
    workdir = Path(tempfile.mkdtemp(prefix="ame-demo-"))
    try:
        return _demo(args, sc, scenario, workdir, interactive, progress, gate_scale)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _demo(args: argparse.Namespace, sc: Any, scenario: Any, workdir: Path, interactive: bool,
          progress: Callable[[str], None], gate_scale: list[str]) -> int:
    """Start the simulated production in ``workdir``, run the checks against it, stop it."""
    from doctor.model import EXIT_CANNOT_RUN

    try:
        platform = sc.start(scenario, progress, workdir=workdir)
    except sc.ScenarioUnavailable as e:
        print(f"ame-doctor: cannot run the demo: {e}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    try:
        for note in platform.notes:
            progress(note)
        progress(f"scenario {scenario.name}: {scenario.description}")
        config = platform.write_config()
        report_path = platform.workdir / "report.json"
        run_argv = ["--config", str(config), "--output", f"json={report_path}"]
        for check_id in platform.skip:
            run_argv += ["--skip", check_id]
        for out in args.output:
            run_argv += ["--output", out]
        if args.no_color:
            run_argv.append("--no-color")
        code = _run(run_argv, interactive, args.format)
        _explain(scenario, report_path, progress, asked=bool(gate_scale))
        if gate_scale:
            return _gate(config, platform.skip, gate_scale, args.format)
        return code
    finally:
        platform.stop()


def _run(run_argv: list[str], interactive: bool, fmt: str) -> int:
    """The scenario's run, exactly as ``ame-doctor tui`` / ``ame-doctor run`` would do it with ``run_argv``."""
    from doctor.commands import run, tui

    parser = argparse.ArgumentParser(prog="ame-doctor demo")
    add_run_options(parser)
    if interactive and tui.available():
        return tui.main(parser.parse_args(run_argv), ["demo", *run_argv])
    if interactive:
        print("ame-doctor: the TUI is not available in this build; running headless", file=sys.stderr)
    return run.main(parser.parse_args([*run_argv, "--format", fmt]), ["demo", *run_argv, "--format", fmt])


def _gate(config: Path, skip: list[str], scale: list[str], fmt: str) -> int:
    """``ame-doctor gate --scale ...`` against the same simulated world, after the scenario's run."""
    from doctor.commands import gate

    parser = argparse.ArgumentParser(prog="ame-doctor demo")
    gate.register(parser)
    argv = ["--config", str(config), "--format", fmt if fmt in ("text", "json", "junit") else "text"]
    for check_id in skip:
        argv += ["--skip", check_id]
    for item in scale:
        argv += ["--scale", item]
    print(flush=True)
    return gate.main(parser.parse_args(argv), ["gate", *argv])


def _explain(scenario: Any, report_path: Path, progress: Callable[[str], None], asked: bool = False) -> None:
    from doctor.model import ReportError, load_report
    from doctor.rollout.rules import WAKE_REMEDIES
    from doctor.sim.scenarios import verdict

    try:
        report = load_report(str(report_path))
    except ReportError:
        return
    ok, why = verdict(scenario, report)
    injected = scenario.cause or "no fault"
    progress(f"injected: {injected} -> {'diagnosed' if ok else 'NOT diagnosed as expected'}: {why}")
    # a drained queue nobody wakes: show the wake the gate decides on this same world
    wakes = sorted({q for r in report.diagnosis.root_causes if f"{r.playbook}/{r.cause}" in WAKE_REMEDIES
                    for q in r.scope.queues})
    if wakes and not asked:
        from doctor.config import Config

        queues = Config().queues  # the simulated world's
        q = wakes[0]
        progress(f"next: ame-doctor demo {scenario.name} --gate {q}={queues[q].wake_to if q in queues else 1} "
                 "decides waking it on this same simulated world")
