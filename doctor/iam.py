"""The IAM policy the doctor needs (``ame-doctor iam-policy`` prints it), generated from the registered
checks' ``CheckMeta.iam_actions`` (so it stays true as checks change), plus the probe transport's
actions when asked with ``--exec``.

Everything in the base policy is read-only. ``--exec ecs-exec`` adds ``ecs:ExecuteCommand`` (the
in-task probe through ECS Exec); ``--exec probe-task`` adds ``ecs:RunTask``/``ecs:StopTask`` (a one-off
task of the service's own task definition, always stopped), ``iam:PassRole`` for the task's roles
and ``logs:GetLogEvents`` to read the probe's output.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Calls the engine itself makes, outside any check.
ENGINE_ACTIONS = ("sts:GetCallerIdentity",)
# Calls the timeline makes (doctor.timeline: what changed before it broke), read-only like the rest.
TIMELINE_ACTIONS = ("cloudtrail:LookupEvents", "ec2:DescribeNetworkAcls", "ecs:DescribeServices",
                    "ecs:DescribeTaskDefinition", "ecs:DescribeTasks", "ecs:ListTasks",
                    "lambda:GetFunctionConfiguration", "logs:FilterLogEvents", "ssm:GetParameterHistory",
                    "ssm:GetParametersByPath")
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
    read = set(ENGINE_ACTIONS) | set(TIMELINE_ACTIONS)
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

