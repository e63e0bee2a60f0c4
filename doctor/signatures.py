"""The log and stop-reason signature catalogue: what a worker's log line or a stopped task's reason says.

Worker log lines are matched against ONE compiled pattern set (an alternation of named groups),
so a line is scanned once whatever the size of the catalogue (:func:`match_line`, :func:`scan`).
Matching is case-sensitive on the stable part of each message (hosts and paths vary). When two
signatures could match the same text, the one that starts first in the line wins
(``SQLSTATE[...] Connection refused`` is the database, a bare ``Connection refused [tcp://`` is Redis).

Stopped ECS tasks are classified by :func:`classify_stop` from the stop code, the task's
``stoppedReason``, the containers' ``reason`` and exit codes; the class's ``kind`` is the finding
kind ``ecs.startup`` reports (declared, with its why and fix, in ``checks/ecs_startup.toml``).

Each signature's ``signal`` is the signal of ``ecs.startup``'s finding kind ``log_<name after the dot>``;
``tests/checks/test_ecs_startup.py`` checks that every signal and stop kind here is declared there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from doctor.redact import clip


@dataclass(frozen=True)
class Signature:
    signal: str
    title: str
    pattern: str  # a regex fragment (no named groups of its own)


# Order matters only for the alternation's tie-breaking at the same start position.
LOG_SIGNATURES: tuple[Signature, ...] = (
    Signature("logs.db_dns", "database host does not resolve",
              r"SQLSTATE\[HY000\] \[2002\] (?:php_network_getaddresses: getaddrinfo"
              r"|[^\n]*?(?:Name or service not known|Temporary failure in name resolution|"
              r"nodename nor servname provided))"),
    Signature("logs.db_timeout", "database connection timed out", r"SQLSTATE\[HY000\] \[2002\] Connection timed out"),
    Signature("logs.db_refused", "database connection refused", r"SQLSTATE\[HY000\] \[2002\] Connection refused"),
    Signature("logs.db_auth", "database login rejected", r"SQLSTATE\[HY000\] \[1045\] Access denied for user"),
    Signature("logs.db_readonly", "connected to a read-only database (reader endpoint)",
              r"1290 The MySQL server is running with the --read-only option|1836 Running in read-only mode"),
    Signature("logs.redis_dns", "Redis host does not resolve",
              r"Redis[A-Za-z]*Exception[^\n]*?(?:getaddrinfo|Name or service not known|"
              r"Temporary failure in name resolution)"
              r"|getaddrinfo[^\n]*?\[tcp://|(?:Name or service not known|Temporary failure in name resolution)"
              r" \[tcp://"),
    Signature("logs.redis_refused", "Redis connection refused",
              r"Connection refused \[tcp://|Redis[A-Za-z]*Exception[^\n]*?Connection refused"),
    Signature("logs.redis_timeout", "Redis connection timed out",
              r"Connection timed out \[tcp://|read error on connection to|"
              r"Redis[A-Za-z]*Exception[^\n]*?Connection timed out"),
    Signature("reach.redis_readonly", "writing to a read-only Redis replica",
              r"READONLY You can't write against a read only replica"),
    Signature("startup.app_key_missing", "APP_KEY missing or malformed",
              r"No application encryption key has been specified\.|Unsupported cipher or incorrect key length"),
    Signature("startup.runtime_dirs_missing", "storage / bootstrap cache directories missing or not writable",
              r"Please provide a valid cache path\.|directory must be present and writable|"
              r"could not be opened in append mode|There is no existing directory at"),
    Signature("logs.memory_exhausted", "PHP memory limit exhausted", r"Allowed memory size of [^\n]*?exhausted"),
    Signature("logs.max_attempts", "jobs exceeding their attempts",
              r"has been attempted too many times|MaxAttemptsExceededException"),
    Signature("logs.job_timeout", "jobs timing out", r"has timed out|run too long|TimeoutExceededException"),
)

_GROUP = {f"s{i}": sig for i, sig in enumerate(LOG_SIGNATURES)}
LOG_PATTERN: re.Pattern[str] = re.compile("|".join(f"(?P<{name}>{sig.pattern})" for name, sig in _GROUP.items()))
BY_SIGNAL: dict[str, Signature] = {s.signal: s for s in LOG_SIGNATURES}


def match_line(line: str) -> list[Signature]:
    """Every signature found in ``line`` (in order, without repeats)."""
    out: list[Signature] = []
    for m in LOG_PATTERN.finditer(line):
        sig = _GROUP[m.lastgroup] if m.lastgroup else None
        if sig is not None and sig not in out:
            out.append(sig)
    return out


@dataclass
class LogHit:
    signal: str
    title: str
    count: int = 0
    sample: str = ""  # the first matching line, truncated
    first_line_no: int = 0


def scan(lines: Iterable[str], max_sample: int = 300) -> dict[str, LogHit]:
    """Signal -> hits over ``lines`` (counts, first sample line)."""
    hits: dict[str, LogHit] = {}
    for i, line in enumerate(lines, 1):
        for sig in match_line(line):
            hit = hits.get(sig.signal)
            if hit is None:
                sample = clip(line.strip(), max_sample, marker="...")
                hit = hits[sig.signal] = LogHit(sig.signal, sig.title, 0, sample, i)
            hit.count += 1
    return hits


# --- stopped tasks --------------------------------------------------------------------------------
@dataclass(frozen=True)
class StopClass:
    kind: str                 # finding kind, e.g. "image_pull_failed", "bootstrap_failed", "expected"
    signals: tuple[str, ...]  # startup.* signals ('' tuple for expected / benign stops)
    severity: str             # info | warning | error | critical
    title: str
    cause: str = ""           # finer cause within the kind (secrets: access_denied / parameter_missing / network)
    extra: dict[str, Any] = field(default_factory=dict)
    cause_detail: str = ""    # what the finer cause means (one sentence)

    @property
    def problem(self) -> bool:
        return bool(self.signals) or self.severity in ("warning", "error", "critical")


_STOP_PATTERNS: tuple[tuple[str, str], ...] = (
    ("image", r"CannotPullContainerError"),
    ("logging", r"failed to initialize logging driver|failed to create Cloudwatch log stream|"
                r"ResourceInitializationError: failed to validate logger args"),
    ("secrets", r"ResourceInitializationError: unable to pull secrets or registry auth|"
                r"ResourceInitializationError:[^\n]*?(?:secrets|ssm|parameter)"),
    ("oom", r"OutOfMemoryError|Container killed due to memory usage"),
    ("runtime", r"ContainerRuntimeTimeoutError|CannotStartContainerError|ContainerRuntimeError|"
                r"CannotCreateContainerError"),
    ("resinit", r"ResourceInitializationError"),
    ("essential", r"Essential container in task exited"),
)
STOP_PATTERN: re.Pattern[str] = re.compile("|".join(f"(?P<{k}>{p})" for k, p in _STOP_PATTERNS))
# (cause, pattern, what it means): why Fargate could not resolve a task definition's secrets[].
_SECRET_CAUSES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("parameter_missing", re.compile(r"ParameterNotFound|ResourceNotFoundException|invalid (?:ssm )?parameters|"
                                     r"InvalidParameters|does not exist"),
     "A secrets[].valueFrom names a parameter that does not exist."),
    ("access_denied", re.compile(r"AccessDenied|not authorized|is not authorized to perform"),
     "The task execution role may not read the parameters (ssm:GetParameters / kms:Decrypt)."),
    ("network", re.compile(r"i/o timeout|context deadline exceeded|dial tcp|connection reset"),
     "The task ENI has no path to SSM (NAT or an ssm interface endpoint)."),
)
_SECRET_CAUSE_UNKNOWN = "Fargate could not resolve the task definition's secrets."
# Every kind classify_stop returns; all but "expected" are problems ecs.startup reports.
STOP_KINDS: tuple[str, ...] = ("image_pull_failed", "logging_init_failed", "secrets_unresolvable", "oom",
                               "bootstrap_failed", "expected", "memory_limit", "clean_exit", "other")
BENIGN_STOP_CODES = {"UserInitiated", "ServiceSchedulerInitiated", "SpotInterruption", "TerminationNotice"}
EXIT_MEANINGS = {0: "clean exit", 1: "application error", 12: "queue:work --memory limit reached",
                 137: "SIGKILL (out of memory or stop timeout)", 139: "segmentation fault",
                 143: "SIGTERM (stopped)", 255: "PHP fatal error"}


def _reasons(task: Mapping[str, Any]) -> list[str]:
    out = [str(task.get("stoppedReason") or "")]
    out += [str(c.get("reason") or "") for c in task.get("containers", []) or []]
    return [r for r in out if r]


def essential_exit_code(task: Mapping[str, Any], essential: set[str] | None = None) -> int | None:
    """The exit code of the (first essential) container that stopped with one."""
    for c in task.get("containers", []) or []:
        if essential and c.get("name") not in essential:
            continue
        if c.get("exitCode") is not None:
            return int(c["exitCode"])
    return None


def classify_stop(task: Mapping[str, Any], essential: set[str] | None = None) -> StopClass:
    """Classify one stopped task (stop code, reasons, exit code) into a ``startup.*`` class."""
    stop_code = str(task.get("stopCode") or "")
    reasons = _reasons(task)
    text = "\n".join(reasons)
    exit_code = essential_exit_code(task, essential)
    found = {m.lastgroup for m in STOP_PATTERN.finditer(text) if m.lastgroup}

    if "image" in found:
        return StopClass("image_pull_failed", ("startup.image_pull_failed",), "critical",
                         "cannot pull the container image (CannotPullContainerError)")
    if "logging" in found:
        return StopClass("logging_init_failed", ("startup.logging_init_failed",), "critical",
                         "the awslogs driver could not start (log group / path to CloudWatch Logs)")
    if "secrets" in found or ("resinit" in found and any(p.search(text) for _, p, _ in _SECRET_CAUSES)):
        cause, meaning = next(((name, m) for name, p, m in _SECRET_CAUSES if p.search(text)),
                              ("unknown", _SECRET_CAUSE_UNKNOWN))
        return StopClass("secrets_unresolvable", ("startup.secrets_unresolvable",), "critical",
                         "the task could not pull its secrets from SSM (ResourceInitializationError)", cause=cause,
                         cause_detail=meaning)
    if "oom" in found or (exit_code == 137 and stop_code not in BENIGN_STOP_CODES):
        return StopClass("oom", ("startup.oom",), "error", "container killed for memory (exit 137 / OutOfMemoryError)")
    if "runtime" in found or "resinit" in found:
        return StopClass("bootstrap_failed", ("startup.bootstrap_failed",), "error",
                         "the container runtime could not start the container")
    if stop_code in BENIGN_STOP_CODES and exit_code in (None, 0, 137, 143):
        return StopClass("expected", (), "info", f"stopped by {stop_code} (deployment, scale-in or interruption)")
    if exit_code == 12:
        return StopClass("memory_limit", (), "warning",
                         "worker exited at its queue:work --memory limit (exit 12); restarts are expected, "
                         "frequent ones mean a job leaks memory")
    if exit_code is not None and exit_code != 0:
        meaning = EXIT_MEANINGS.get(exit_code, "non-zero exit")
        return StopClass("bootstrap_failed", ("startup.bootstrap_failed",), "error",
                         f"the essential container exited {exit_code} ({meaning})")
    if stop_code == "TaskFailedToStart":
        return StopClass("bootstrap_failed", ("startup.bootstrap_failed",), "error", "the task failed to start")
    if exit_code == 0 or "essential" in found:
        return StopClass("clean_exit", (), "warning",
                         "the worker exited 0 (queue:work --stop-when-empty / --max-jobs / --max-time?); "
                         "ECS replaces it, which looks like churn")
    return StopClass("other", (), "warning", "stopped for an unclassified reason")
