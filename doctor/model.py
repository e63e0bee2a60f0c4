"""The report model: the public, versioned contract of every run (``--format json`` writes it,
``ame-doctor schema`` describes it; ``SCHEMA_VERSION`` changes when a field changes meaning) and the
exit codes every command returns."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 2  # 2: diagnosis.root_causes and timeline (1 had playbooks only; still readable)


class Severity(str, Enum):
    info = "info"
    warning = "warning"
    error = "error"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.info: 0, Severity.warning: 1, Severity.error: 2, Severity.critical: 3}


class CheckStatus(str, Enum):
    passed = "pass"
    warn = "warn"
    fail = "fail"
    error = "error"
    unknown = "unknown"
    skipped = "skipped"


class RunStatus(str, Enum):
    healthy = "healthy"
    degraded = "degraded"
    failing = "failing"
    unknown = "unknown"


class CauseState(str, Enum):
    confirmed = "confirmed"
    likely = "likely"
    possible = "possible"
    ruled_out = "ruled-out"
    unknown = "unknown"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class Finding(_Model):
    uid: str = Field(description="deterministic: '<check id>:<kind>:<resource>'")
    severity: Severity
    title: str
    detail: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)
    resources: list[str] = Field(default_factory=list)
    remediation: str = ""
    signals: list[str] = Field(default_factory=list)


class CheckResult(_Model):
    id: str
    title: str
    order: int
    status: CheckStatus
    duration_ms: int = 0
    summary: str = ""
    findings: list[Finding] = Field(default_factory=list)
    unlock: str | None = Field(
        default=None, description="for unknown/skipped: the IAM action or flag that would let it run"
    )


class CauseResult(_Model):
    id: str
    title: str
    state: CauseState
    score: float = 0.0
    evidence: list[str] = Field(default_factory=list, description="finding uids that support it")
    refuting: list[str] = Field(default_factory=list, description="finding uids that argue against it")
    next_steps: list[str] = Field(default_factory=list)
    reason: str = Field(default="", description="why this state: the matching signal expressions, or the "
                        "checks that ruled it out / could not run")


class PlaybookResult(_Model):
    id: str
    title: str
    verdict: str
    causes: list[CauseResult] = Field(default_factory=list)


class Scope(_Model):
    """Where a cause holds: the ECS services and the queues its evidence is about (both empty: platform-wide)."""

    services: list[str] = Field(default_factory=list)
    queues: list[str] = Field(default_factory=list)


class ExplainedCause(_Model):
    """A cause whose evidence a root cause explains (a consequence, listed under the root cause)."""

    playbook: str
    cause: str
    title: str = ""
    state: CauseState = CauseState.likely
    score: float = 0.0
    scope: Scope = Field(default_factory=Scope)


class RootCause(_Model):
    """A cause not explained by a stronger cause in the same scope, with what it explains."""

    playbook: str
    cause: str
    title: str = ""
    state: CauseState
    score: float = 0.0
    scope: Scope = Field(default_factory=Scope)
    evidence: list[str] = Field(default_factory=list, description="finding uids that support it")
    explains: list[ExplainedCause] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)


class Diagnosis(_Model):
    root_causes: list[RootCause] = Field(
        default_factory=list, description="rank order, strongest first; empty when nothing is wrong")


class TimelineKind(str, Enum):
    change = "change"    # something someone (or AWS) changed: a CloudTrail write, a parameter version, a deployment
    symptom = "symptom"  # something going wrong: an error signature, a task stop, a backlog, a failed job
    info = "info"        # context on the same axis, neither (running tasks started, benign stops)


class SourceStatus(str, Enum):
    ok = "ok"
    partial = "partial"  # read, but cut short (pagination bound, throttling, the run deadline)
    missing = "missing"  # denied: ``unlock`` names the IAM action
    error = "error"
    off = "off"          # not configured (e.g. Sentry)


class TimelineEvent(_Model):
    id: str = Field(description="deterministic: '<source>:<key>'")
    at: str = Field(description="ISO 8601, UTC")
    kind: TimelineKind
    source: str = Field(description="cloudtrail | ssm-history | ecs-deployment | ecs-event | ecs-task | logs | "
                        "sentry | queue | doctor")
    title: str
    actor: str | None = Field(default=None, description="who: the CloudTrail principal or SSM LastModifiedUser")
    resources: list[str] = Field(default_factory=list, description="typed resource tokens, e.g. 'sg:sg-0abc', "
                                 "'param:/app/DB_HOST', 'service:app-image'")
    services: list[str] = Field(default_factory=list)
    signals: list[str] = Field(default_factory=list, description="symptoms: the signals they show")
    finding: str | None = Field(default=None, description="uid of the finding this event shows up in")
    detail: dict[str, Any] = Field(default_factory=dict, description="event name, redacted request parameters, "
                                   "counts; parameter values never")


class TimelineLink(_Model):
    """A change in a root cause's scope before its first symptom."""

    playbook: str
    cause: str
    change: str = Field(description="id of the change event")
    symptom: str | None = Field(default=None, description="id of the root cause's first symptom")
    gap_s: int | None = Field(default=None, description="seconds from the change to the first symptom")
    via: list[str] = Field(default_factory=list, description="the resource tokens the change and the scope share")
    text: str = ""


class TimelineSource(_Model):
    name: str
    status: SourceStatus
    events: int = 0
    note: str = ""
    unlock: str | None = Field(default=None, description="for missing: the IAM action that would let it read")


class Timeline(_Model):
    """What changed and what broke on one time axis, tied to the diagnosis' root causes."""

    since: str | None = None
    until: str | None = None
    events: list[TimelineEvent] = Field(default_factory=list, description="oldest first")
    links: list[TimelineLink] = Field(default_factory=list,
                                      description="per root cause (diagnosis order), the nearest change first")
    unmatched_changes: list[str] = Field(default_factory=list, description="changes linked to no root cause")
    unexplained_symptoms: list[str] = Field(default_factory=list,
                                            description="symptoms with no change in their scope before them (leads: "
                                            "an AWS-side event?)")
    sources: list[TimelineSource] = Field(default_factory=list)

    def event(self, event_id: str) -> TimelineEvent | None:
        return next((e for e in self.events if e.id == event_id), None)


class ToolInfo(_Model):
    name: str = "ame-doctor"
    version: str


class RunInfo(_Model):
    id: str
    started_at: str
    finished_at: str | None = None
    duration_ms: int = 0
    argv: list[str] = Field(default_factory=list)
    interrupted: bool = False


class QueueTarget(_Model):
    service: str


class Target(_Model):
    account: str | None = None
    region: str | None = None
    cluster: str
    queues: dict[str, QueueTarget] = Field(default_factory=dict)


class Summary(_Model):
    passed: int = Field(0, alias="pass")
    warn: int = 0
    fail: int = 0
    error: int = 0
    unknown: int = 0
    skipped: int = 0

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True, defer_build=True)


class Report(_Model):
    schema_version: int = SCHEMA_VERSION
    tool: ToolInfo
    run: RunInfo
    target: Target
    status: RunStatus = RunStatus.unknown
    exit_code: int = 0
    checks: list[CheckResult] = Field(default_factory=list)
    playbooks: list[PlaybookResult] = Field(default_factory=list)
    diagnosis: Diagnosis = Field(default_factory=Diagnosis)
    timeline: Timeline = Field(default_factory=Timeline)
    summary: Summary = Field(default_factory=Summary)

    def check(self, check_id: str) -> CheckResult | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def findings(self) -> list[tuple[CheckResult, Finding]]:
        return [(c, f) for c in self.checks for f in c.findings]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, by_alias=True)


def summarize(checks: list[CheckResult]) -> Summary:
    counts = {s: 0 for s in CheckStatus}
    for c in checks:
        counts[c.status] += 1
    return Summary(
        passed=counts[CheckStatus.passed],
        warn=counts[CheckStatus.warn],
        fail=counts[CheckStatus.fail],
        error=counts[CheckStatus.error],
        unknown=counts[CheckStatus.unknown],
        skipped=counts[CheckStatus.skipped],
    )


EVIDENCE = frozenset({CheckStatus.passed, CheckStatus.warn, CheckStatus.fail})  # a check that saw the platform


def has_evidence(checks: list[CheckResult]) -> bool:
    """Whether any check gathered evidence (pass, warn or fail). A run where every check is unknown, error
    or skipped (or none ran) says nothing about the platform: never healthy, never exit 0."""
    return any(c.status in EVIDENCE for c in checks)


def run_status(checks: list[CheckResult]) -> RunStatus:
    """failing (a fail), unknown (no evidence at all), degraded (a warn, or a check that could not tell:
    unknown or error), else healthy."""
    statuses = {c.status for c in checks}
    if CheckStatus.fail in statuses:
        return RunStatus.failing
    if not has_evidence(checks):
        return RunStatus.unknown
    if statuses & {CheckStatus.warn, CheckStatus.error, CheckStatus.unknown}:
        return RunStatus.degraded
    return RunStatus.healthy


# The exit codes of every command (defined here only): 0 nothing at or above --fail-on, 1 findings
# (or a denied gate, an unhealthy soak, a worse diff), 2 bad input, 3 the doctor could not run,
# 130 interrupted (128 + SIGINT, the shell's convention).
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_CANNOT_RUN = 3
EXIT_INTERRUPTED = 130


def exit_code_for(checks: list[CheckResult], fail_on: Severity, strict: bool) -> int:
    """The run's exit code (the matrix in the README, section Usage), first match wins:
    1 a finding at or above ``fail_on``; 3 no check gathered evidence (the doctor could not run);
    1 with ``strict``, any unknown or error check; else 0."""
    if any(f.severity.rank >= fail_on.rank for c in checks for f in c.findings):
        return EXIT_FINDINGS
    if not has_evidence(checks):
        return EXIT_CANNOT_RUN
    if strict and any(c.status in (CheckStatus.unknown, CheckStatus.error) for c in checks):
        return EXIT_FINDINGS
    return EXIT_OK


class ReportError(Exception):
    """A saved report that cannot be read: one clear line, exit 2."""


MAX_REPORT_BYTES = 64 << 20  # a large incident report is a few MB


def load_report(path: str) -> Report:
    """A saved JSON report, read within bounds (size; a FIFO or device that stays silent is refused) and
    checked: a supported schema_version, valid fields, unique check ids. Anything else: ``ReportError``."""
    import json

    from pydantic import ValidationError

    from doctor.inputs import InputError, read_text_bounded

    try:
        data = json.loads(read_text_bounded(path, MAX_REPORT_BYTES))
    except InputError as e:
        raise ReportError(str(e)) from None
    except json.JSONDecodeError as e:
        raise ReportError(f"{path}: not JSON (line {e.lineno}: {e.msg})") from None
    except RecursionError:
        raise ReportError(f"{path}: not a report (JSON nested too deeply)") from None
    except ValueError as e:  # e.g. an integer of thousands of digits
        raise ReportError(f"{path}: not a report ({str(e).partition(':')[0]})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ReportError(f"{path}: not an ame-doctor report (no schema_version)")
    version = data["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ReportError(f"{path}: schema_version must be a positive integer, got {json.dumps(version)[:40]}")
    if version > SCHEMA_VERSION:
        raise ReportError(
            f"{path}: report schema_version {version} is newer than this ame-doctor supports ({SCHEMA_VERSION}); upgrade ame-doctor"
        )
    try:
        report = Report.model_validate(data)
    except RecursionError:
        raise ReportError(f"{path}: invalid report (values nested too deeply)") from None
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ReportError(f"{path}: invalid report at {loc}: {err['msg']}") from None
    seen: set[str] = set()
    for c in report.checks:
        if c.id in seen:
            raise ReportError(f"{path}: invalid report: check {c.id!r} appears twice")
        seen.add(c.id)
    return report
