"""``ame-doctor iam-policy``: the IAM policy the doctor needs, generated from the registered checks'
``CheckMeta.iam_actions`` (so it stays true as checks change), plus the probe transport's actions
when asked with ``--exec``.

Everything in the base policy is read-only. ``--exec ecs-exec`` adds ``ecs:ExecuteCommand`` (the
in-task probe through ECS Exec); ``--exec probe-task`` adds ``ecs:RunTask``/``ecs:StopTask`` (a one-off
task of the service's own task definition, always stopped), ``iam:PassRole`` for the task's roles
and ``logs:GetLogEvents`` to read the probe's output.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

# Calls the engine itself makes, outside any check.
ENGINE_ACTIONS = ("sts:GetCallerIdentity",)
TRANSPORT_ACTIONS: dict[str, tuple[str, ...]] = {
    "ecs-exec": ("ecs:ExecuteCommand",),
    "probe-task": ("ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "iam:PassRole", "logs:GetLogEvents"),
    "local": (),
    "off": (),
}
# Actions that act on the target: only ever granted for the transport that needs them, even when a
# check's metadata lists them (reach.* declare the transports they can use).
ACTING = frozenset({"ecs:ExecuteCommand", "ecs:RunTask", "ecs:StopTask", "iam:PassRole"})


def actions_by_check(checks: Iterable[Any]) -> dict[str, list[str]]:
    return {c.id: sorted(set(c.meta.iam_actions)) for c in checks}


def policy(checks: Iterable[Any], transports: Iterable[str] = ()) -> dict[str, Any]:
    """An IAM policy document: one read-only statement, and one per exec transport asked for."""
    read = set(ENGINE_ACTIONS)
    for c in checks:
        read.update(a for a in c.meta.iam_actions if a not in ACTING)
    statements: list[dict[str, Any]] = [
        {"Sid": "AmeDoctorReadOnly", "Effect": "Allow", "Action": sorted(read), "Resource": "*"}]
    for t in transports:
        extra = sorted(set(TRANSPORT_ACTIONS[t]) - read)
        if extra:
            sid = "AmeDoctorProbe" + "".join(part.title() for part in t.split("-"))
            statements.append({"Sid": sid, "Effect": "Allow", "Action": extra, "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


def register(subparsers: Any, add_run_options: Callable[[argparse.ArgumentParser], None]) -> None:
    p = subparsers.add_parser(
        "iam-policy", help="print the IAM policy the doctor needs (from the checks' metadata)",
        description="Print the least-privilege IAM policy for the registered checks, generated from each "
        "check's declared IAM actions. Add --exec TRANSPORT for the in-task probe's extra actions.")
    p.add_argument("--exec", dest="exec_transports", action="append", default=[],
                   choices=["ecs-exec", "probe-task", "local", "off", "all"],
                   help="also allow this probe transport's actions (repeatable; 'all' = ecs-exec and probe-task)")
    p.add_argument("--only", action="append", default=[], metavar="ID", help="only these check ids")
    p.add_argument("--format", choices=["json", "text"], default="json",
                   help="json: the policy document (default); text: which check needs which action")
    p.set_defaults(handler=cmd_iam_policy)


def cmd_iam_policy(args: argparse.Namespace, argv: list[str]) -> int:
    from doctor.cli import UsageError
    from doctor.registry import all_checks

    checks = all_checks()
    only = [v.strip() for item in args.only for v in item.split(",") if v.strip()]
    unknown = [i for i in only if i not in {c.id for c in checks}]
    if unknown:
        raise UsageError(f"unknown check id {', '.join(unknown)}; valid ids: {', '.join(c.id for c in checks)}")
    if only:
        checks = [c for c in checks if c.id in only]
    transports: list[str] = []
    for t in args.exec_transports:
        for x in (["ecs-exec", "probe-task"] if t == "all" else [t]):
            if x not in transports:
                transports.append(x)
    if args.format == "json":
        sys.stdout.write(json.dumps(policy(checks, transports), indent=2) + "\n")
        return 0
    lines = ["IAM actions by check (* = granted only with --exec for the transport that uses it):"]
    for cid, actions in actions_by_check(checks).items():
        shown = [a + ("*" if a in ACTING else "") for a in actions]
        lines.append(f"  {cid:<14} {', '.join(shown) or '(no AWS calls)'}")
    lines.append(f"  {'(engine)':<14} {', '.join(ENGINE_ACTIONS)}")
    for t in transports:
        lines.append(f"probe transport {t}: {', '.join(TRANSPORT_ACTIONS[t]) or '(no AWS calls)'}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
