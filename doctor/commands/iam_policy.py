"""``ame-doctor iam-policy``: print the IAM policy the doctor needs (the policy itself is doctor.iam)."""

from __future__ import annotations

import argparse

HELP = "print the IAM policy the doctor needs (from the checks' metadata)"
DESCRIPTION = ("Print the least-privilege IAM policy for the registered checks, generated from each "
               "check's declared IAM actions. Add --exec TRANSPORT for the in-task probe's extra actions.")


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--exec", dest="exec_transports", action="append", default=[],
                   choices=["ecs-exec", "probe-task", "local", "off", "all"],
                   help="also allow this probe transport's actions (repeatable; 'all' = ecs-exec and probe-task)")
    p.add_argument("--only", action="append", default=[], metavar="ID", help="only these check ids")
    p.add_argument("--format", choices=["json", "text"], default="json",
                   help="json: the policy document (default); text: which check needs which action")


def main(args: argparse.Namespace, argv: list[str]) -> int:
    import json
    import sys

    from doctor.errors import UsageError
    from doctor.iam import (
        ACTING,
        ENGINE_ACTIONS,
        TIMELINE_ACTIONS,
        TRANSPORT_ACTIONS,
        actions_by_check,
        policy,
    )
    from doctor.model import EXIT_OK
    from doctor.registry import all_checks
    from doctor.runspec import split_ids

    checks = all_checks()
    only = split_ids(args.only)
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
        return EXIT_OK
    lines = ["IAM actions by check (* = granted only with --exec for the transport that uses it):"]
    for cid, actions in actions_by_check(checks).items():
        shown = [a + ("*" if a in ACTING else "") for a in actions]
        lines.append(f"  {cid:<14} {', '.join(shown) or '(no AWS calls)'}")
    lines.append(f"  {'(engine)':<14} {', '.join(ENGINE_ACTIONS)}")
    lines.append(f"  {'(timeline)':<14} {', '.join(TIMELINE_ACTIONS)}")
    for t in transports:
        lines.append(f"probe transport {t}: {', '.join(TRANSPORT_ACTIONS[t]) or '(no AWS calls)'}")
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK
