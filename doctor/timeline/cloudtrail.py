"""Changes from CloudTrail ``LookupEvents``: one lookup per event name of the catalogue, newest first,
bounded by the window, by ``max_pages`` pages of 50 per name and by the run's deadline.

LookupEvents allows 2 calls per second per account and region: botocore's retry absorbs short
throttling; throttling that outlasts it stops the reading and says how far it got (``partial``).
A failed call (``errorCode`` in the record) changed nothing and is left out. Who made the change is
the principal from ``userIdentity``. Parameter values never appear, secret-looking request parameters are
masked here; every text then passes the run's redactor when the timeline is assembled (all the run's
secrets are known by then).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from doctor.aws import THROTTLE_CODES, AwsSession, error_code
from doctor.model import TimelineEvent, TimelineKind
from doctor.redact import MASK, Redactor, clip
from doctor.timeline.catalogue import BY_NAME, CATALOGUE, ChangeKind
from doctor.timeline.sources import SourceRead, Window, iso, when
from doctor.timeline.tokens import arn_name, describe, family, parameter_name, role_name, split, token

PAGE_SIZE = 50  # the API's maximum
MAX_TEXT = 300  # a request parameter string longer than this is cut
RESOURCE_TYPES = {
    "AWS::EC2::SecurityGroup": ("sg", arn_name), "AWS::EC2::NetworkAcl": ("nacl", arn_name),
    "AWS::SSM::Parameter": ("param", parameter_name), "AWS::ECS::Service": ("service", arn_name),
    "AWS::ECS::TaskDefinition": ("taskdef", family), "AWS::IAM::Role": ("role", role_name),
    "AWS::RDS::DBCluster": ("db-cluster", arn_name), "AWS::ElastiCache::ReplicationGroup": ("cache", arn_name),
    "AWS::Lambda::Function": ("function", arn_name), "AWS::Events::Rule": ("rule", arn_name),
}


def read(out: SourceRead, aws: AwsSession, window: Window, max_pages: int, redactor: Redactor,
         kinds: Iterable[ChangeKind] = CATALOGUE) -> None:
    """Every catalogued write event in the window into ``out`` (stops at the first denial or persistent throttle)."""
    kinds = list(kinds)
    keys = SecretKeys(redactor)
    target = aws.region_name
    for n, kind in enumerate(kinds):
        if window.expired():
            out.cut_short(f"stopped by the run deadline after {n} of {len(kinds)} event names")
            return
        region = kind.region if kind.region and kind.region != target else None
        client = aws.client("cloudtrail", region=region) if region else aws.client("cloudtrail")
        try:
            pages_left = _lookup(out, client, kind, window, max_pages, keys)
        except Exception as e:
            if error_code(e) in THROTTLE_CODES:
                out.cut_short(f"throttled by CloudTrail at {kind.name}; {n} of {len(kinds)} event names read")
                return
            raise
        if pages_left:
            out.cut_short(f"more than {max_pages * PAGE_SIZE} {kind.name} events: the oldest were not read")


def _lookup(out: SourceRead, client: Any, kind: ChangeKind, window: Window, max_pages: int,
            keys: SecretKeys) -> bool:
    """Read one event name's pages into ``out``; True when pages were left unread."""
    token_: str | None = None
    for _ in range(max_pages):
        kwargs: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": kind.name}],
            "StartTime": window.since, "EndTime": window.until, "MaxResults": PAGE_SIZE}
        if token_:
            kwargs["NextToken"] = token_
        resp = client.lookup_events(**kwargs)
        for raw in resp.get("Events", []):
            event = parse(raw, keys)
            if event is not None and window.contains(when(event.at)):
                out.events.append(event)
        token_ = resp.get("NextToken")
        if not token_ or window.expired():
            return bool(token_)
    return True


class SecretKeys:
    """``Redactor.is_secret_key``, remembered per key name: request parameters repeat the same few keys."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._seen: dict[str, bool] = {}

    def __call__(self, key: str) -> bool:
        hit = self._seen.get(key)
        if hit is None:
            hit = self._seen[key] = self.redactor.is_secret_key(key)
        return hit


def parse(raw: dict[str, Any], keys: SecretKeys) -> TimelineEvent | None:
    """One ``Events[]`` entry of LookupEvents as a change; None for a failed call or an event we do not track."""
    kind = BY_NAME.get(str(raw.get("EventName", "")))
    at = when(raw.get("EventTime"))
    if kind is None or at is None:
        return None
    try:
        record = json.loads(raw.get("CloudTrailEvent") or "{}")
    except (TypeError, ValueError):
        record = {}
    if not isinstance(record, dict):
        record = {}
    if record.get("errorCode"):
        return None
    request = record.get("requestParameters") or {}
    if not isinstance(request, dict):
        request = {}
    # the request names what changed; Resources[] only when it does not (CloudTrail fills it for some services)
    tokens = list(dict.fromkeys(kind.tokens(request))) or _resource_tokens(raw.get("Resources") or [])
    verb = kind.describe(request)
    subject = describe(tokens[0]) if tokens else kind.source.split(".", 1)[0]
    detail: dict[str, Any] = {"event": kind.name, "event_source": kind.source, "phrase": {
        "subject": tokens[0] if tokens else "", "verb": verb}, "request": redact_request(request, keys)}
    if record.get("awsRegion"):
        detail["region"] = record["awsRegion"]
    return TimelineEvent.model_construct(  # built here from checked parts: thousands per run, no re-validation
        id=f"cloudtrail:{raw.get('EventId') or record.get('eventID') or at.isoformat() + kind.name}",
        at=iso(at), kind=TimelineKind.change, source="cloudtrail", title=f"{subject} {verb}",
        actor=principal(record.get("userIdentity"), raw.get("Username")), resources=tokens,
        services=[name for kind_, name in map(split, tokens) if kind_ == "service"], signals=[], finding=None,
        detail=detail)


def _resource_tokens(resources: list[Any]) -> list[str]:
    out = []
    for r in resources:
        if not isinstance(r, dict):
            continue
        kind = RESOURCE_TYPES.get(str(r.get("ResourceType", "")))
        name = r.get("ResourceName")
        if kind and isinstance(name, str) and name:
            out.append(token(kind[0], kind[1](name)))
    return out


def principal(identity: Any, username: Any = None) -> str | None:
    """Who made the call, short: ``role/session`` for an assumed role, the user name, ``root``, the AWS service."""
    if isinstance(identity, dict):
        arn = str(identity.get("arn") or "")
        kind = identity.get("type")
        if kind == "AssumedRole" and ":assumed-role/" in arn:
            return arn.split(":assumed-role/", 1)[1]
        if kind == "IAMUser" and (identity.get("userName") or arn):
            return str(identity.get("userName") or arn_name(arn))
        if kind == "Root":
            return "root"
        if kind == "AWSService" and identity.get("invokedBy"):
            return f"AWS {identity['invokedBy']}"
        if arn:
            return arn_name(arn)
    return str(username) if username else None


def redact_request(request: Any, secret: SecretKeys, key: str | None = None) -> Any:
    """CloudTrail request parameters as output may show them: parameter values dropped, secret-looking keys
    masked (``masterUserPassword``, ``authToken``, an ``environment`` entry named like a secret), long strings
    cut (the run's redactor passes over the text when the timeline is assembled)."""
    if isinstance(request, dict):
        secret_pair = isinstance(request.get("name"), str) and secret(request["name"])
        out: dict[str, Any] = {}
        for k, v in request.items():
            if k == "value" and key is None:
                continue  # PutParameter's value: never shown
            if (k == "value" and secret_pair) or (secret(k) and v not in (None, "")):
                out[k] = MASK
            else:
                out[k] = redact_request(v, secret, k)
        return out
    if isinstance(request, list):
        return [redact_request(v, secret, key) for v in request]
    if isinstance(request, str):
        return request if len(request) <= MAX_TEXT else clip(request, MAX_TEXT, marker="...")
    return request
