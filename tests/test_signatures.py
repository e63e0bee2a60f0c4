"""The signature catalogue: one compiled pattern set; each documented signature maps to its signal."""

from __future__ import annotations

import re

import pytest

from doctor.signatures import LOG_PATTERN, STOP_KINDS, classify_stop, match_line, scan

LINES = [
    ("SQLSTATE[HY000] [2002] php_network_getaddresses: getaddrinfo for ame-aurora.cluster-x failed: Name or "
     "service not known (Connection: mysql, SQL: select * from `jobs`)", "logs.db_dns"),
    ("SQLSTATE[HY000] [2002] Temporary failure in name resolution", "logs.db_dns"),
    ("SQLSTATE[HY000] [2002] Connection timed out (Connection: mysql, SQL: select 1)", "logs.db_timeout"),
    ("PDOException: SQLSTATE[HY000] [2002] Connection refused", "logs.db_refused"),
    ("SQLSTATE[HY000] [1045] Access denied for user 'ame'@'10.20.1.5' (using password: YES)", "logs.db_auth"),
    ("SQLSTATE[HY000]: General error: 1290 The MySQL server is running with the --read-only option so it cannot "
     "execute this statement", "logs.db_readonly"),
    ("SQLSTATE[HY000]: General error: 1836 Running in read-only mode", "logs.db_readonly"),
    ("RedisException: Connection timed out in /var/www/html/vendor/laravel/framework/src/Illuminate/Redis/"
     "Connectors/PhpRedisConnector.php:159", "logs.redis_timeout"),
    ("RedisException: read error on connection to master.ame-redis.x.euw1.cache.amazonaws.com:6379",
     "logs.redis_timeout"),
    ("Predis\\Connection\\ConnectionException: Connection timed out [tcp://10.0.0.5:6379]", "logs.redis_timeout"),
    ("Predis\\Connection\\ConnectionException: Connection refused [tcp://127.0.0.1:6379]", "logs.redis_refused"),
    ("RedisException: Connection refused", "logs.redis_refused"),
    ("RedisException: php_network_getaddresses: getaddrinfo for old-redis.x.cache.amazonaws.com failed: Name or "
     "service not known", "logs.redis_dns"),
    ("Predis\\Connection\\ConnectionException: php_network_getaddresses: getaddrinfo failed: Name or service not "
     "known [tcp://old-redis:6379]", "logs.redis_dns"),
    ("READONLY You can't write against a read only replica.", "reach.redis_readonly"),
    ("No application encryption key has been specified.", "startup.app_key_missing"),
    ("Unsupported cipher or incorrect key length. Supported ciphers are: aes-128-cbc", "startup.app_key_missing"),
    ("Please provide a valid cache path.", "startup.runtime_dirs_missing"),
    ('The stream or file "/var/www/html/storage/logs/laravel.log" could not be opened in append mode: Failed to '
     "open stream: Permission denied", "startup.runtime_dirs_missing"),
    ("The /var/www/html/bootstrap/cache directory must be present and writable.", "startup.runtime_dirs_missing"),
    ("There is no existing directory at \"/var/www/html/storage/logs\"", "startup.runtime_dirs_missing"),
    ("PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted (tried to allocate 20480 bytes)",
     "logs.memory_exhausted"),
    ("App\\Jobs\\SyncFeed has been attempted too many times.", "logs.max_attempts"),
    ("Illuminate\\Queue\\MaxAttemptsExceededException", "logs.max_attempts"),
    ("App\\Jobs\\ResizeImage has timed out.", "logs.job_timeout"),
]


def test_one_compiled_pattern() -> None:
    assert isinstance(LOG_PATTERN, re.Pattern)


@pytest.mark.parametrize(("line", "signal"), LINES)
def test_signature(line: str, signal: str) -> None:
    assert [s.signal for s in match_line(line)] == [signal]


@pytest.mark.parametrize("line", [
    "   INFO  Processing jobs from the [sync] queue.",
    "App\\Jobs\\SyncFeed ..... 120ms DONE",
    "cURL error 28: Connection timed out after 10001 milliseconds",  # not Redis, not the DB
    "sqlstate[hy000] [2002] connection refused",                      # case-sensitive on the stable part
])
def test_no_false_positive(line: str) -> None:
    assert match_line(line) == []


def test_scan_counts_and_samples() -> None:
    hits = scan(["ok", LINES[2][0], LINES[2][0], LINES[15][0]])
    assert hits["logs.db_timeout"].count == 2 and hits["logs.db_timeout"].first_line_no == 2
    assert hits["startup.app_key_missing"].count == 1


def _task(reason: str = "", code: str = "", exit_code: int | None = None, creason: str = "") -> dict:
    c: dict = {"name": "app"}
    if exit_code is not None:
        c["exitCode"] = exit_code
    if creason:
        c["reason"] = creason
    return {"stoppedReason": reason, "stopCode": code, "containers": [c]}


@pytest.mark.parametrize(("task", "kind", "cause"), [
    (_task("CannotPullContainerError: pull image manifest has been retried 5 time(s)", "TaskFailedToStart"),
     "image_pull_failed", ""),
    (_task("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
           "failed: unable to retrieve secrets from ssm: ParameterNotFound", "TaskFailedToStart"),
     "secrets_unresolvable", "parameter_missing"),
    (_task("ResourceInitializationError: unable to pull secrets or registry auth: AccessDeniedException: User is "
           "not authorized to perform: ssm:GetParameters", "TaskFailedToStart"), "secrets_unresolvable", "access_denied"),
    (_task("ResourceInitializationError: unable to pull secrets or registry auth: dial tcp 1.2.3.4:443: i/o timeout",
           "TaskFailedToStart"), "secrets_unresolvable", "network"),
    (_task("CannotStartContainerError: failed to initialize logging driver: ResourceNotFoundException",
           "TaskFailedToStart"), "logging_init_failed", ""),
    (_task("Essential container in task exited", "EssentialContainerExited", 137,
           "OutOfMemoryError: Container killed due to memory usage"), "oom", ""),
    (_task("Essential container in task exited", "EssentialContainerExited", 1), "bootstrap_failed", ""),
    (_task("Essential container in task exited", "EssentialContainerExited", 255), "bootstrap_failed", ""),
    (_task("CannotStartContainerError: ContainerRuntimeTimeoutError", "TaskFailedToStart"), "bootstrap_failed", ""),
    (_task("Essential container in task exited", "EssentialContainerExited", 12), "memory_limit", ""),
    (_task("Scaling activity initiated by deployment ecs-svc/1", "ServiceSchedulerInitiated", 143), "expected", ""),
    (_task("Task stopped by user", "UserInitiated", 0), "expected", ""),
    (_task("Essential container in task exited", "EssentialContainerExited", 0), "clean_exit", ""),
])
def test_classify_stop(task: dict, kind: str, cause: str) -> None:
    cls = classify_stop(task, {"app"})
    assert cls.kind == kind and kind in STOP_KINDS
    assert cls.cause == cause
    assert (kind in ("expected",)) == (not cls.problem)
