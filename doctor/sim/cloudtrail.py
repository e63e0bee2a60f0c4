"""A CloudTrail stand-in for ``LookupEvents`` (moto has none): a loopback HTTP server speaking the AWS JSON
1.1 protocol (``X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents``) with
the documented request and response shapes, reached by the product through the standard service-specific
endpoint variable ``AWS_ENDPOINT_URL_CLOUDTRAIL`` (botocore honours it; nothing in the doctor knows).

What it serves, as CloudTrail does: events per region (the region is read from the request's SigV4
credential scope; IAM's events live in us-east-1), newest first; one ``LookupAttributes`` entry at most
(``EventId``, ``EventName``, ``ReadOnly``, ``Username``, ``ResourceType``, ``ResourceName``,
``EventSource``, ``AccessKeyId``); ``StartTime`` / ``EndTime``; ``MaxResults`` 1..50 (default 50);
an opaque ``NextToken`` bound to the query; and the documented errors (``InvalidLookupAttributesException``,
``InvalidTimeRangeException``, ``InvalidMaxResultsException``, ``InvalidNextTokenException``). Tests can make
it answer ``ThrottlingException`` for the next N calls, or ``AccessDeniedException`` to every call.

:class:`Recorder` makes the simulated production's own write calls appear in it: a boto3 session hook
records each catalogued write (PutParameter, RevokeSecurityGroupIngress, UpdateService, ...) as the
CloudTrail event AWS would have written, with the principal and, when a scenario says so, a past time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
ACCOUNT = "123456789012"
DEFAULT_PRINCIPAL = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_PlatformAdmin_5f1e/alex@example.com"
ATTRIBUTE_KEYS = ("EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource",
                  "AccessKeyId")
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/cloudtrail/aws4_request")
# boto3 service name -> eventSource
SOURCES = {"ssm": "ssm.amazonaws.com", "ec2": "ec2.amazonaws.com", "ecs": "ecs.amazonaws.com",
           "rds": "rds.amazonaws.com", "elasticache": "elasticache.amazonaws.com", "lambda": "lambda.amazonaws.com",
           "events": "events.amazonaws.com", "iam": "iam.amazonaws.com"}
# resource type of a request parameter, for the Resources[] LookupEvents returns
RESOURCE_PARAMS = {"groupId": "AWS::EC2::SecurityGroup", "networkAclId": "AWS::EC2::NetworkAcl",
                   "name": "AWS::SSM::Parameter", "service": "AWS::ECS::Service",
                   "dBClusterIdentifier": "AWS::RDS::DBCluster",
                   "replicationGroupId": "AWS::ElastiCache::ReplicationGroup", "roleName": "AWS::IAM::Role"}


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def event(name: str, source: str, at: datetime, request: dict[str, Any], *, region: str = "eu-west-1",
          principal: str = DEFAULT_PRINCIPAL, response: dict[str, Any] | None = None,
          resources: list[dict[str, str]] | None = None, error_code: str | None = None,
          read_only: bool = False) -> dict[str, Any]:
    """One ``Events[]`` entry as LookupEvents returns it, its ``CloudTrailEvent`` the record JSON string."""
    event_id = str(uuid.uuid4())
    session = principal.rsplit("/", 1)[-1]
    identity: dict[str, Any] = {"type": "AssumedRole", "principalId": f"AROAEXAMPLE:{session}", "arn": principal,
                                "accountId": ACCOUNT, "accessKeyId": "ASIAEXAMPLEKEY"}
    if ":user/" in principal:
        identity = {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": principal, "accountId": ACCOUNT,
                    "userName": principal.rsplit("/", 1)[-1], "accessKeyId": "AKIAEXAMPLEKEY"}
    elif ":assumed-role/" in principal:
        role = principal.split(":assumed-role/", 1)[1].split("/", 1)[0]
        identity["sessionContext"] = {"sessionIssuer": {"type": "Role", "userName": role,
                                                        "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}"}}
    record: dict[str, Any] = {
        "eventVersion": "1.09", "userIdentity": identity, "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source, "eventName": name, "awsRegion": region, "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.0", "requestParameters": request, "responseElements": response,
        "requestID": str(uuid.uuid4()), "eventID": event_id, "readOnly": read_only, "eventType": "AwsApiCall",
        "managementEvent": True, "recipientAccountId": ACCOUNT, "eventCategory": "Management"}
    if error_code:
        record["errorCode"], record["errorMessage"] = error_code, f"{error_code} (simulated)"
    if resources is None:
        resources = [{"ResourceType": kind, "ResourceName": str(request[key])}
                     for key, kind in RESOURCE_PARAMS.items() if isinstance(request.get(key), str)]
    return {"EventId": event_id, "EventName": name, "ReadOnly": "true" if read_only else "false",
            "AccessKeyId": identity["accessKeyId"], "EventTime": at.timestamp(), "EventSource": source,
            "Username": identity.get("userName") or session, "Resources": resources,
            "CloudTrailEvent": json.dumps(record)}


@dataclass
class CloudTrailStandIn:
    """``start()`` it, point ``AWS_ENDPOINT_URL_CLOUDTRAIL`` at ``url``, ``add()`` events."""

    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # region -> events
    throttle_next: int = 0       # answer ThrottlingException to this many further calls
    deny: bool = False           # answer AccessDeniedException to every call
    calls: list[dict[str, Any]] = field(default_factory=list)  # each request: region + body
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _results: dict[str, tuple[int, list[dict[str, Any]]]] = field(default_factory=dict)  # query -> (version, found)
    _version: int = 0  # bumped by every add() and reset()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> CloudTrailStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = standin.handle(self.headers.get("X-Amz-Target", ""),
                                                 self.headers.get("Authorization", ""), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="cloudtrail-standin", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def add(self, entry: dict[str, Any], region: str = "eu-west-1") -> None:
        with self._lock:
            self.events.setdefault(region, []).append(entry)
            self._version += 1

    def reset(self) -> None:
        """No events, no calls, no throttling or denial (a test's fresh CloudTrail)."""
        with self._lock:
            self.events.clear()
            self.calls.clear()
            self._results.clear()
            self._version += 1
            self.throttle_next, self.deny = 0, False

    def all_events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e for events in self.events.values() for e in events]

    # --- the API -------------------------------------------------------------------------------------
    def handle(self, target: str, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        m = _SCOPE.search(authorization)
        region = m.group(1) if m else "us-east-1"
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return 400, {"__type": "SerializationException", "message": "body is not JSON"}
        with self._lock:
            self.calls.append({"region": region, "request": request})
            throttled = self.throttle_next > 0
            self.throttle_next -= 1 if throttled else 0
        if target != TARGET:
            return 400, {"__type": "UnknownOperationException", "message": f"unknown operation {target!r}"}
        if self.deny:
            return 400, {"__type": "AccessDeniedException", "message": f"User: arn:aws:iam::{ACCOUNT}:user/doctor is "
                         "not authorized to perform: cloudtrail:LookupEvents because no identity-based policy "
                         "allows the cloudtrail:LookupEvents action"}
        if throttled:
            return 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        try:
            return 200, self.lookup(region, request)
        except ApiError as e:
            return e.status, {"__type": e.code, "message": e.message}

    def lookup(self, region: str, request: dict[str, Any]) -> dict[str, Any]:
        attrs = request.get("LookupAttributes") or []
        if len(attrs) > 1:
            raise ApiError("InvalidLookupAttributesException", "only one lookup attribute is supported")
        if attrs and attrs[0].get("AttributeKey") not in ATTRIBUTE_KEYS:
            raise ApiError("InvalidLookupAttributesException", f"unknown AttributeKey {attrs[0].get('AttributeKey')}")
        start = _time(request.get("StartTime"), datetime.min.replace(tzinfo=UTC))
        end = _time(request.get("EndTime"), datetime.now(UTC))
        if start > end:
            raise ApiError("InvalidTimeRangeException", "StartTime is after EndTime")
        limit = request.get("MaxResults", 50)
        if not isinstance(limit, int) or not 1 <= limit <= 50:
            raise ApiError("InvalidMaxResultsException", "MaxResults must be between 1 and 50")
        query = hashlib.sha256(json.dumps([region, attrs, request.get("StartTime"), request.get("EndTime")],
                                          sort_keys=True).encode()).hexdigest()[:16]
        offset = _offset(request.get("NextToken"), query)
        with self._lock:
            cached = self._results.get(query)
            if cached is None or cached[0] != self._version:  # a query's result, kept while nothing is added
                found = [e for e in self.events.get(region, []) if start <= _time(e["EventTime"], start) <= end
                         and (not attrs or _matches(e, attrs[0]))]
                found.sort(key=lambda e: -float(e["EventTime"]))
                cached = self._results[query] = (self._version, found)
        events = cached[1]
        page = events[offset:offset + limit]
        out: dict[str, Any] = {"Events": page}
        if offset + limit < len(events):
            out["NextToken"] = base64.b64encode(f"{query}:{offset + limit}".encode()).decode()
        return out


def _time(value: Any, default: datetime) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return default


def _offset(token: Any, query: str) -> int:
    if token is None:
        return 0
    try:
        tq, _, n = base64.b64decode(str(token)).decode().partition(":")
        if tq == query:
            return int(n)
    except ValueError:
        pass
    raise ApiError("InvalidNextTokenException", "the NextToken is invalid or belongs to another query")


def _matches(entry: dict[str, Any], attr: dict[str, Any]) -> bool:
    key, value = str(attr.get("AttributeKey")), attr.get("AttributeValue")
    if key in ("ResourceType", "ResourceName"):
        return any(r.get(key) == value for r in entry.get("Resources") or [])
    return bool(entry.get(key) == value)


# --- recording the simulated production's own writes -----------------------------------------------------
Inject = Callable[[Any], None]  # a scenario's fault injection (it takes the SimPlatform)
CHANGED: dict[Inject, timedelta] = {}  # inject -> when its change was made (the time CloudTrail records)


def changed(**ago: float) -> Callable[[Inject], Inject]:
    """The fault's change was made this long ago (``@changed(minutes=41)``): the scenario's writes and records
    carry that time in CloudTrail, so the timeline sees the change before the symptoms, as on call."""
    def mark(inject: Inject) -> Inject:
        CHANGED[inject] = timedelta(**ago)
        return inject
    return mark


def _camel(value: Any) -> Any:
    """API parameters as CloudTrail records them: camelCase keys (``GroupId`` -> ``groupId``)."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:] if k[:2] != "DB" else "dB" + k[2:]): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _ec2_lists(value: Any) -> Any:
    """EC2's CloudTrail shape: every list wrapped as ``{"items": [...]}``."""
    if isinstance(value, dict):
        return {k: _ec2_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        return {"items": [_ec2_lists(v) for v in value]}
    return value


@dataclass
class Recorder:
    """Records the catalogued write calls made through a boto3 session into a stand-in, as CloudTrail would."""

    trail: CloudTrailStandIn
    operations: frozenset[str]
    principal: str = DEFAULT_PRINCIPAL
    ago: timedelta | None = None  # while set: writes are recorded as made this long ago

    def attach(self, session: Any) -> None:
        events = session._session if hasattr(session, "_session") else session
        events.register("provide-client-params.*.*", self._params, unique_id="ame-sim-trail-params")
        events.register("after-call.*.*", self._record, unique_id="ame-sim-trail-record")

    @contextmanager
    def at(self, ago: timedelta | None) -> Iterator[None]:
        """Writes inside are recorded as made ``ago`` before now (None: at the moment they are made)."""
        saved, self.ago = self.ago, ago if ago is not None else self.ago
        try:
            yield
        finally:
            self.ago = saved

    def now(self) -> datetime:
        return datetime.now(UTC) - (self.ago or timedelta(0))

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["ame_sim_params"] = dict(params)

    def _record(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any],
                **_: Any) -> None:
        if model.name not in self.operations or getattr(http_response, "status_code", 200) >= 300:
            return
        service = model.service_model.service_name
        request = _camel(context.get("ame_sim_params") or {})
        if service == "ec2":
            request = _ec2_lists(request)
        if model.name == "PutParameter" and request.get("type") == "SecureString":
            request["value"] = "HIDDEN_DUE_TO_SECURITY_REASONS"  # CloudTrail never records a SecureString value
        self.record(model.name, service, request)

    def record(self, name: str, service: str, request: dict[str, Any], *, ago: timedelta | None = None,
               region: str | None = None, principal: str | None = None) -> None:
        """One change as CloudTrail records it (``ago``: when; default the recorder's clock)."""
        at = datetime.now(UTC) - ago if ago is not None else self.now()
        region = region or ("us-east-1" if service == "iam" else "eu-west-1")
        self.trail.add(event(name, SOURCES.get(service, f"{service}.amazonaws.com"), at, request, region=region,
                             principal=principal or self.principal), region)
