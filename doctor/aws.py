"""AWS session factory, the read-only guard, and error classification.

Every client made here carries a botocore ``before-call`` hook that refuses any operation that is
not a read: the hook sits on the botocore session itself, which is private (no attribute hands it out), so
no client can be made around it. ``ExecuteCommand`` / ``RunTask`` / ``StopTask`` are allowed only when the chosen probe
transport needs them. A refused call raises ``WriteRefused``: that is a bug in the doctor.
"""

from __future__ import annotations

import os
import re
import threading
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import botocore.session

READ_PREFIXES = ("Describe", "List", "Get", "Head", "Lookup", "Filter", "Simulate")
EXEC_OPERATIONS = {
    "ecs-exec": frozenset({"ExecuteCommand"}),
    "probe-task": frozenset({"RunTask", "StopTask"}),
}
DENIED_CODES = {
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess",
    "AuthorizationError", "AuthFailure", "Forbidden", "403", "NotAuthorized",
}
# STS answers these when the credentials themselves are refused: nothing the doctor asks can succeed
REJECTED_CODES = {"InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException",
                  "SignatureDoesNotMatch", "InvalidAccessKeyId", "AuthFailure"}
THROTTLE_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
# operations whose IAM action differs from service:Operation
IAM_ACTION_OVERRIDES = {
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
}
IAM_PREFIX = {"elasticache": "elasticache", "rds": "rds", "logs": "logs", "ec2": "ec2", "ecs": "ecs",
              "ssm": "ssm", "s3": "s3", "iam": "iam", "sts": "sts"}


def botocore_session(region: str | None, profile: str | None) -> botocore.session.Session:
    """A botocore session for ``region`` and ``profile`` (the environment's when None). botocore is boto3's
    own core: the doctor makes clients only, and boto3's resources and S3 transfer manager would add ~60 ms
    of imports to every run."""
    import botocore.session

    session = botocore.session.Session(profile=profile)
    if region:
        session.set_config_variable("region", region)
    return session


class WriteRefused(RuntimeError):
    """The doctor tried a non-read AWS operation. Always a bug; reported loudly."""


def is_allowed(operation: str, transport: str | None = None) -> bool:
    if operation.startswith(READ_PREFIXES):
        return True
    return operation in EXEC_OPERATIONS.get(transport or "", frozenset())


def iam_action(service: str, operation: str) -> str:
    return IAM_ACTION_OVERRIDES.get((service, operation), f"{IAM_PREFIX.get(service, service)}:{operation}")


class AwsSession:
    """Creates guarded, cached clients. Thread-safe (checks run in worker threads)."""

    def __init__(
        self,
        region: str | None = None,
        profile: str | None = None,
        transport: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        max_attempts: int = 4,
    ) -> None:
        self.region = region
        self.profile = profile
        self.transport = transport
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_attempts = max_attempts
        # botocore's own retry (throttling, 5xx, connection errors): "standard" unless AWS_RETRY_MODE says
        # "adaptive" (client-side rate limiting for accounts that throttle hard)
        mode = os.environ.get("AWS_RETRY_MODE", "standard")
        self.retry_mode: Literal["standard", "adaptive"] = "adaptive" if mode == "adaptive" else "standard"
        self.__session: botocore.session.Session | None = None  # private: every client goes through _boto_session()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._making = threading.Lock()  # clients are made one at a time; using a made one never waits for it
        self.calls: list[tuple[str, str]] = []  # (service, operation), for tests and the IAM policy
        self.unreachable: dict[str, BaseException] = {}  # endpoint URL -> the connection error seen
        self.down: BaseException | None = None  # AWS found unreachable for the run: every call fails with it

    def _boto_session(self) -> Any:
        """The botocore session, made once, with the read-only guard on its events: every client made from it
        (here or anywhere) inherits the guard."""
        with self._lock:
            if self.__session is None:
                session = botocore_session(self.region, self.profile)
                session.register("before-call.*.*", self._guard)
                self.__session = session
            return self.__session

    @property
    def region_name(self) -> str | None:
        return str(self._boto_session().get_config_variable("region") or "") or None

    def client(self, service: str, region: str | None = None) -> Any:
        """The guarded client of ``service`` (in ``region`` when given, e.g. us-east-1 for a global service's
        CloudTrail events; else the session's)."""
        from botocore.config import Config as BotoConfig

        key = f"{service}@{region}" if region else service
        made = self._clients.get(key)
        if made is not None:  # no lock: a call never waits while another check's client (EC2's: ~0.2 s) is made
            return made
        session = self._boto_session()
        with self._making:
            if key not in self._clients:
                cfg = BotoConfig(
                    retries={"mode": self.retry_mode, "max_attempts": self.max_attempts},
                    connect_timeout=self.connect_timeout,
                    read_timeout=self.read_timeout,
                )
                client = session.create_client(service, config=cfg, region_name=region)  # guarded by its hook
                endpoint = client.meta.endpoint_url
                client.meta.events.register("before-call.*.*", lambda **_: self._fail_fast(endpoint))
                client.meta.events.register("after-call-error.*.*",
                                            lambda exception=None, **_: self._note_error(endpoint, exception))
                self._clients[key] = client
            return self._clients[key]

    def _note_error(self, endpoint: str, exc: BaseException | None) -> None:
        """Remember an endpoint that could not be reached (after botocore's own retries)."""
        if exc is not None and is_unreachable(exc):
            with self._lock:
                self.unreachable.setdefault(endpoint, exc)

    def _fail_fast(self, endpoint: str) -> None:
        """Once an endpoint was unreachable (or AWS as a whole, ``down``), later calls to it fail at once
        instead of retrying again."""
        with self._lock:
            exc = self.down or self.unreachable.get(endpoint)
        if exc is not None:
            raise exc

    def _guard(self, **kwargs: Any) -> None:
        model = kwargs["model"]  # the operation's model (botocore passes every before-call argument by name)
        service = model.service_model.service_name
        op = model.name
        _LAST_CALL.value = (service, op)
        with self._lock:
            self.calls.append((service, op))
        if not is_allowed(op, self.transport):
            raise WriteRefused(
                f"read-only guard refused {service}:{op} (transport={self.transport or 'none'}); this is a bug in ame-doctor"
            )

    def reach(self, service: str, cluster: str) -> tuple[dict[str, Any] | None, BaseException | None]:
        """One quick call, to see whether AWS answers at all: STS GetCallerIdentity or ECS DescribeClusters of
        ``cluster``, with short timeouts and one retry. (the response, None) when it answered; (None, the error)
        when it could not be reached or refused the credentials; (None, None) for any other answer (a denial
        still proves the endpoint is there)."""
        from botocore.config import Config as BotoConfig

        cfg = BotoConfig(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=3, read_timeout=3)
        try:
            session = self._boto_session()
            with self._making:  # one at a time: clients made concurrently each load the models, 2x slower
                client = session.create_client(service, config=cfg)  # guarded by the session's hook
            if service == "sts":
                return dict(client.get_caller_identity()), None
            return dict(client.describe_clusters(clusters=[cluster])), None
        except Exception as e:
            if is_unreachable(e) or error_code(e) in REJECTED_CODES:
                return None, e
            return None, None

    def account_id(self) -> str | None:
        try:
            return str(self.client("sts").get_caller_identity()["Account"])
        except Exception:
            return None


_PERFORM = re.compile(r"perform:\s*([a-z0-9-]+:[A-Za-z0-9]+)")


def denied_action(exc: BaseException) -> str | None:
    """If ``exc`` is an AWS permission error, the IAM action that was denied; else None."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return None
    err = exc.response.get("Error", {})
    code = str(err.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code not in DENIED_CODES and not (status == 403 and code in ("", "403")):
        return None
    m = _PERFORM.search(str(err.get("Message", "")))
    if m:
        return m.group(1)
    service = _service_of(exc)
    return iam_action(service, exc.operation_name) if service else exc.operation_name


# the (service, operation) of this thread's last AWS call, set by the guard: a ClientError is raised in
# the thread that made the call, so a denied call is named without loading every service model
_LAST_CALL = threading.local()


def _service_of(exc: Any) -> str | None:
    svc = getattr(exc, "service_name", None)
    last = getattr(_LAST_CALL, "value", None)
    if not svc and last and last[1] == exc.operation_name:
        svc = last[0]
    if svc:
        return str(svc)
    import botocore.session

    loader = botocore.session.get_session()
    for name in IAM_PREFIX:
        try:
            if exc.operation_name in loader.get_service_model(name).operation_names:
                return name
        except Exception:
            continue
    return None


def error_code(exc: BaseException) -> str | None:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def is_unreachable(exc: BaseException) -> bool:
    """A connection that could not be made, timed out, or was closed without an answer (after retries)."""
    from botocore.exceptions import ConnectionClosedError, ConnectionError, ReadTimeoutError

    return isinstance(exc, ConnectionError | ReadTimeoutError | ConnectionClosedError)
