"""Parameter changes from SSM ``GetParameterHistory``: the version, when and who — never the value.

Only parameters whose current ``LastModifiedDate`` falls in the window have a version there, so a quiet
parameter costs no call. A deleted parameter has no history left: CloudTrail's ``DeleteParameter`` shows it.
"""

from __future__ import annotations

from typing import Any

from doctor.facts import Facts
from doctor.model import TimelineEvent, TimelineKind
from doctor.timeline.cloudtrail import principal
from doctor.timeline.sources import SourceRead, Window, iso, when
from doctor.timeline.tokens import token


def read(out: SourceRead, facts: Facts, window: Window, max_pages: int) -> None:
    params = facts.ssm_parameters()
    changed = sorted(name for name, p in params.items() if window.contains(when(p.get("LastModifiedDate"))))
    ssm = facts.aws.client("ssm")
    for n, name in enumerate(changed):
        if window.expired():
            out.cut_short(f"stopped by the run deadline after {n} of {len(changed)} parameters")
            return
        next_token: str | None = None
        for _ in range(max_pages):
            kwargs: dict[str, Any] = {"Name": name, "WithDecryption": False, "MaxResults": 50}
            if next_token:
                kwargs["NextToken"] = next_token
            resp = ssm.get_parameter_history(**kwargs)
            for version in resp.get("Parameters", []):
                event = _event(name, version, window)
                if event is not None:
                    out.events.append(event)
            next_token = resp.get("NextToken")
            if not next_token:
                break
        else:
            out.cut_short(f"{name}: more than {max_pages * 50} versions, the newest not read")


def _event(name: str, version: dict[str, Any], window: Window) -> TimelineEvent | None:
    """One version as a change; its Value is never read into the timeline."""
    at = when(version.get("LastModifiedDate"))
    if not window.contains(at):
        return None
    assert at is not None
    number = version.get("Version")
    user = version.get("LastModifiedUser")
    actor = None if user in (None, "", "N/A") else principal({"arn": user, "type": _identity_type(str(user))})
    verb = "created (version 1)" if number == 1 else f"changed (version {number})"
    detail: dict[str, Any] = {"version": number, "type": version.get("Type"), "phrase": {
        "subject": token("param", name), "verb": verb}}
    if version.get("Labels"):
        detail["labels"] = list(version["Labels"])
    return TimelineEvent(id=f"ssm-history:{name}:v{number}", at=iso(at), kind=TimelineKind.change,
                         source="ssm-history", title=f"SSM parameter {name} {verb}", actor=actor,
                         resources=[token("param", name)], detail=detail)


def _identity_type(arn: str) -> str:
    if ":assumed-role/" in arn:
        return "AssumedRole"
    if ":user/" in arn:
        return "IAMUser"
    return ""
