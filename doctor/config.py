"""Configuration: TOML (stdlib) validated by pydantic; every key has the platform's default."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from doctor.inputs import InputError, read_text_bounded
from doctor.model import Severity
from doctor.util import parse_duration

DEFAULT_CLUSTER = "propertyfeedtemplate-production"
DEFAULT_SSM_PATH = "/propertyfeedtemplate/production/"
DEFAULT_REQUIRED = [
    "APP_KEY", "APP_NAME", "DB_HOST", "DB_PORT", "DB_DATABASE", "DB_USERNAME", "DB_PASSWORD",
    "REDIS_HOST", "REDIS_PORT", "AWS_BUCKET",
]
DEFAULT_SECRET_KEYS = ["*PASSWORD*", "*SECRET*", "*KEY*", "*TOKEN*"]
HEAVY_QUEUES = ("sync", "image", "bulk")


class ConfigError(Exception):
    """A bad configuration: one clear line for the user, exit 2."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # numbers are finite, names non-empty


# Values that cannot work are refused when the config loads, not discovered by a crashing check.
def _shaped(pattern: str, what: str) -> AfterValidator:
    """A string validator: ``pattern`` (a simple, linear-time regex) must match all of it, else "must be <what>"."""
    compiled = re.compile(pattern)

    def check(v: str) -> str:
        if len(v) > 2048 or not compiled.fullmatch(v):
            raise ValueError(f"must be {what}, got {_shown(v)}")
        return v

    return AfterValidator(check)


Name = Annotated[str, _shaped(r"\S(?:.*\S)?", "a non-empty name without leading or trailing spaces")]
Host = Annotated[str, _shaped(r"[^\s/]{1,253}", "a host name or IP address")]
Port = Annotated[int, Field(ge=1, le=65535)]
EcsName = Annotated[str, _shaped(r"(?:arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:(?:cluster|service)/(?:[A-Za-z0-9_-]+/)?)?"
                                 r"[A-Za-z0-9_-]{1,255}", "an ECS name (1-255 letters, digits, '-', '_') or its ARN")]
Region = Annotated[str, _shaped(r"[a-z]{2,}(?:-[a-z0-9]+)+", "an AWS region such as eu-west-1")]
MAX_TASKS = 5000  # ECS: tasks per service


class AwsConfig(_Section):
    region: Region | None = None
    profile: Name | None = None


class EcsConfig(_Section):
    cluster: EcsName = DEFAULT_CLUSTER
    container: Name | None = None


class QueueConfig(_Section):
    service: EcsName
    scale: tuple[int, int] = (0, 1)
    baseline: int | None = Field(None, ge=0, le=MAX_TASKS, description="the count waking from 0 goes to "
                                 "(within scale); default 1, or scale's min/max when 1 is outside it")
    healthy_backlog_per_task: int = Field(5, ge=0, le=1_000_000, description="a flat backlog of up to this many jobs "
                                          "per running task, with live consumers and completions, is a healthy soak")

    @field_validator("scale")
    @classmethod
    def _ordered(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[0] < 0 or v[0] > v[1] or v[1] > MAX_TASKS:
            raise ValueError(f"scale must be [min, max] with 0 <= min <= max <= {MAX_TASKS}")
        return v

    @model_validator(mode="after")
    def _baseline_in_scale(self) -> QueueConfig:
        lo, hi = self.scale
        if self.baseline is not None and not lo <= self.baseline <= hi:
            raise ValueError(f"baseline {self.baseline} is outside scale [{lo}, {hi}]")
        return self

    @property
    def wake_to(self) -> int:
        """The platform's baseline: the count a drained queue wakes to (above it is widening)."""
        lo, hi = self.scale
        return self.baseline if self.baseline is not None else min(max(1, lo), hi)


def _default_queues() -> dict[str, QueueConfig]:
    return {
        "sync": QueueConfig(service="propertyfeedtemplate-sync", scale=(0, 1)),
        "image": QueueConfig(service="propertyfeedtemplate-image", scale=(0, 2)),
        "bulk": QueueConfig(service="propertyfeedtemplate-bulk", scale=(0, 1)),
    }


class SsmConfig(_Section):
    path: str = DEFAULT_SSM_PATH
    required: list[Name] = Field(default_factory=lambda: list(DEFAULT_REQUIRED))
    secret_keys: list[Name] = Field(default_factory=lambda: list(DEFAULT_SECRET_KEYS))

    @field_validator("path")
    @classmethod
    def _slashes(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("must start with '/'")
        return v if v.endswith("/") else v + "/"


class EnvConfig(_Section):
    file: Path | None = None


class RedisConfig(_Section):
    host: Host | None = None
    port: Port | None = None
    db: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    prefix: str | None = None
    tls: bool = False
    password: str | None = None


class DatabaseConfig(_Section):
    cluster: Name | None = None
    host: Host | None = None
    port: Port | None = None
    database: str | None = None
    username: str | None = None
    password: str | None = None


class DnsConfig(_Section):
    nameservers: list[str] = Field(default_factory=list)

    @field_validator("nameservers")
    @classmethod
    def _hostport(cls, v: list[str]) -> list[str]:
        for ns in v:
            host, _, port = ns.rpartition(":") if ns.count(":") == 1 else (ns, "", "")
            if not host.strip() or any(c.isspace() for c in host):
                raise ValueError(f"nameserver {ns!r}: not a host or host:port")
            if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
                raise ValueError(f"nameserver {ns!r}: port must be a number in 1..65535")
        return v


Transport = Literal["ecs-exec", "probe-task", "local", "off"]


class ExecConfig(_Section):
    transport: Transport = "ecs-exec"
    timeout: float = Field(30.0, gt=0, le=3600)
    app_root: Name | None = None
    fallback: Transport = "off"
    max_tasks_per_service: int = Field(3, ge=1, le=100, description="ecs-exec: RUNNING tasks probed per service")
    connect_timeout: float | None = Field(None, gt=0, le=60, description="the in-task probe's connect and read "
                                          "timeout, seconds; default [exec] timeout / 6 within 1..5")

    @property
    def probe_timeout(self) -> float:
        """The in-task probe's connect (and read) timeout."""
        return self.connect_timeout or max(1.0, min(5.0, self.timeout / 6))


class RunConfig(_Section):
    timeout: float = Field(120.0, gt=0, le=86400)
    check_timeout: float = Field(60.0, gt=0, le=86400)
    concurrency: int = Field(8, ge=1, le=64)
    fail_on: Severity = Severity.error
    strict: bool = False
    window_minutes: int = Field(60, ge=1, le=7 * 24 * 60, description="look-back window for stopped tasks and logs")
    restart_storm: int = Field(3, ge=1, le=MAX_TASKS, description="stopped tasks in the window that make a restart "
                               "storm")
    soak_minutes: int = Field(15, ge=0, le=24 * 60)
    sample: float = Field(0.0, ge=0, le=3600, description="queue.state: seconds over which to take queue readings "
                          "for the drain rate (--sample); 0 = one reading")
    connect_timeout: float | None = Field(None, gt=0, le=60, description="TCP connect from the doctor's host to "
                                          "Redis and MySQL, seconds; default the in-task probe's ([exec])")
    read_timeout: float | None = Field(None, gt=0, le=300, description="waiting for Redis / MySQL to answer on an "
                                       "open connection from the doctor's host, seconds; default connect_timeout")

    @model_validator(mode="after")
    def _room_for_sample(self) -> RunConfig:
        """--sample S needs S seconds inside queue.state's deadline and the run's."""
        if self.sample:
            self.check_timeout = max(self.check_timeout, self.sample + 30)
            self.timeout = max(self.timeout, self.sample + 60)
        return self


class SentryConfig(_Section):
    """[sentry]: the worker projects' Sentry issues (check sentry.errors; skipped while not configured)."""

    url: str = "https://sentry.io"
    organization: str | None = None
    projects: list[str] = Field(default_factory=list)
    environment: str | None = None
    queue_tag: str | None = None
    window_minutes: int = Field(30, ge=1, le=7 * 24 * 60)
    token_env: str = Field("SENTRY_AUTH_TOKEN", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout: float = Field(10.0, gt=0, le=120, description="seconds per Sentry API request")
    max_pages: int = Field(5, ge=1, le=50, description="pages of 100 issues read per query (Link cursors)")

    @property
    def configured(self) -> bool:
        return bool(self.organization and self.projects)


class ScalerConfig(_Section):
    """[scaler]: the burst/drain controller (check scaler.controller; skipped with kind = "none")."""

    kind: Literal["lambda", "application-autoscaling", "none"] = "none"
    function: str | None = None
    rule: str | None = None
    range_env: str = Field("SCALE_{QUEUE}", pattern=r"^[A-Za-z0-9_{}]+$",
                           description="the function's environment variable holding a queue's [min, max] "
                           "({QUEUE}/{queue}: the queue name upper/lower case), e.g. SCALE_IMAGE=0..2")
    interval_seconds: int | None = Field(None, ge=1, le=86400, description="how often the controller runs; "
                                         "default: from the trigger's schedule (rate/cron), else 60")


class TimelineConfig(_Section):
    """[timeline]: what changed before it broke (doctor.timeline; `ame-doctor timeline`)."""

    enabled: bool = True
    since: str = Field("24h", description="look-back window: 90s, 30m, 6h, 2d, 1w (`timeline --since`)")
    max_pages: int = Field(5, ge=1, le=100, description="pages per CloudTrail event name and per log group")

    @field_validator("since")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v.strip()


class Config(_Section):
    aws: AwsConfig = Field(default_factory=AwsConfig)
    ecs: EcsConfig = Field(default_factory=EcsConfig)
    queues: dict[str, QueueConfig] = Field(default_factory=_default_queues)
    ssm: SsmConfig = Field(default_factory=SsmConfig)
    env: EnvConfig = Field(default_factory=EnvConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    dns: DnsConfig = Field(default_factory=DnsConfig)
    exec: ExecConfig = Field(default_factory=ExecConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    sentry: SentryConfig = Field(default_factory=SentryConfig)
    scaler: ScalerConfig = Field(default_factory=ScalerConfig)
    timeline: TimelineConfig = Field(default_factory=TimelineConfig)

    @model_validator(mode="after")
    def _no_default_queue(self) -> Config:
        if "default" in self.queues:
            raise ValueError("queues.default: 'default' stays on the app hosts and cannot be an ECS queue")
        return self

    def host_timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts of the doctor's own connections to Redis and MySQL ([run], else [exec])."""
        connect = self.run.connect_timeout or self.exec.probe_timeout
        return connect, self.run.read_timeout or connect

    def service_for(self, queue: str) -> str | None:
        q = self.queues.get(queue)
        return q.service if q else None

    @property
    def services(self) -> dict[str, str]:
        """service name -> queue name"""
        return {q.service: name for name, q in self.queues.items()}


def _header(line: str) -> tuple[str, ...] | None:
    """The dotted name of a ``[table]`` / ``[[array]]`` header line, else None (string operations only:
    linear in the line, whatever it holds)."""
    s = line.strip()
    if not s.startswith("["):
        return None
    double = s.startswith("[[")
    end = s.find("]")
    if end < 0:
        return None
    name, rest = s[2 if double else 1:end], s[end + 1:]
    if double:
        if not rest.startswith("]"):
            return None
        rest = rest[1:]
    rest = rest.strip()
    if (rest and not rest.startswith("#")) or not name.strip():
        return None
    return tuple(part.strip().strip('"\'') for part in name.split("."))


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort 1-based line of a key path in TOML text (for error messages); linear in the text."""
    lines = text.splitlines()
    path = tuple(str(p) for p in loc if not isinstance(p, int))
    if not path:
        return None
    headers = [(i, h) for i, line in enumerate(lines) if (h := _header(line)) is not None]
    ends = [i for i, _ in headers[1:]] + [len(lines)]  # where each header's table stops
    # the deepest table header that is a prefix of the path, then the key inside that table
    for depth in range(len(path), -1, -1):
        table, rest = path[:depth], path[depth:]
        if not table:
            spans = [(-1, headers[0][0] if headers else len(lines))]
        else:
            spans = [(i, ends[n]) for n, (i, h) in enumerate(headers) if h == table]
        if rest:
            key = rest[0]
            for begin, stop in spans:
                for i in range(begin + 1, stop):
                    k = lines[i].lstrip()
                    if k.startswith(key) and k[len(key):].lstrip()[:1] in ("=", "."):
                        return i + 1
        if spans and table:
            return spans[0][0] + 1  # the table is there, the key is not (missing field)
        if table:
            prefixed = next((i for i, h in headers if h[:len(table)] == table), None)
            if prefixed is not None:  # e.g. [queues.sync] exists but there is no [queues] header
                return prefixed + 1
    return None


MAX_CONFIG_BYTES = 1 << 20  # a config file is a few KB; anything larger is not one


def load_config(path: Path | None, overrides: dict[str, Any] | None = None,
                flags: dict[str, str] | None = None) -> Config:
    """Load --config / AME_DOCTOR_CONFIG / ./ame-doctor.toml, then apply CLI overrides (dotted keys).

    ``flags``: the command-line flag of an override's dotted key (``{"run.timeout": "--timeout"}``), named
    in the error when that value is invalid. Every problem is a ``ConfigError`` (one line, exit 2).
    """
    explicit = path is not None or bool(os.environ.get("AME_DOCTOR_CONFIG"))
    if path is None:
        env = os.environ.get("AME_DOCTOR_CONFIG")
        path = Path(env) if env else Path("ame-doctor.toml")
    data: dict[str, Any] = {}
    text = ""
    if explicit or path.exists():
        try:
            text = read_text_bounded(path, MAX_CONFIG_BYTES)
        except InputError as e:
            if not os.path.lexists(path):
                raise ConfigError(f"{path}: config file not found") from None
            raise ConfigError(str(e)) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: invalid TOML: {e}") from None
        except RecursionError:
            raise ConfigError(f"{path}: invalid TOML: arrays or tables nested too deeply") from None
        except ValueError as e:  # e.g. an integer of thousands of digits
            raise ConfigError(f"{path}: invalid TOML: {str(e).partition(':')[0]}") from None
    if isinstance(data.get("queues"), dict) and "default" in data["queues"]:
        line = _line_of(text, ("queues", "default"))
        raise ConfigError(f"{path}:{line}: queues.default: 'default' stays on the app hosts and cannot be an "
                          "ECS queue (remove the table)")
    from_cli: dict[str, Any] = {}
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        node: Any = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {}) if isinstance(node, dict) else None
        if isinstance(node, dict):  # else the file's own value for the table is wrong: reported below
            node[leaf] = value
            from_cli[dotted] = value
    try:
        return Config.model_validate(data)
    except RecursionError:
        raise ConfigError(f"{path}: values nested too deeply") from None
    except ValidationError as e:
        err = e.errors()[0]
        err["msg"] = str(err["msg"]).removeprefix("Value error, ")
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(root)"
        if key in from_cli:  # a command-line flag, not the file
            flag = (flags or {}).get(key)
            where = f"{flag} {_shown(from_cli[key])}" if flag else f"command line: {key}"
            raise ConfigError(f"{where}: {err['msg']}" + ("" if flag else f" (got {_shown(err.get('input'))})")) from None
        line = _line_of(text, loc) if text else None
        where = f"{path}:{line}: " if line else (f"{path}: " if text else "")
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise ConfigError(f"{where}{key}: {err['msg']}{more}") from None


def _shown(value: Any) -> str:
    """A value for an error line: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
