"""queue.state building blocks without servers: key parsing, worker commands, payload heads, prefixes."""

from __future__ import annotations

import pytest

from doctor.queues import (
    HeadJob,
    command_words,
    exception_class,
    parse_worker_command,
    prefix_origin,
    split_queue_key,
)


@pytest.mark.parametrize("key,expected", [
    ("propertyfeedtemplate_database_queues:image", ("propertyfeedtemplate_database_", "image", "ready")),
    ("propertyfeedtemplate_database_queues:image:reserved", ("propertyfeedtemplate_database_", "image", "reserved")),
    ("laravel-database-queues:bulk:delayed", ("laravel-database-", "bulk", "delayed")),
    ("queues:default:notify", ("", "default", "notify")),
    ("app_database_queues:{sync}:reserved", ("app_database_", "sync", "reserved")),
    ("app_cache_:somequeues:x", None),
    ("app_database_queues:a:b:c", None),
])
def test_split_queue_key(key: str, expected: tuple[str, str, str] | None) -> None:
    assert split_queue_key(key) == expected


def test_worker_command_list_form() -> None:
    cmd = parse_worker_command(["php", "artisan", "queue:work", "redis", "--queue=image,default", "--tries=3",
                                "--timeout", "120", "--memory=256", "--max-jobs=500"])
    assert cmd is not None
    assert cmd.connection == "redis" and cmd.queues == ["image", "default"]
    assert cmd.options == {"tries": 3, "timeout": 120, "memory": 256, "max_jobs": 500}
    assert cmd.effective()["sleep"] == 3


def test_worker_command_sync_trap_and_defaults() -> None:
    cmd = parse_worker_command(["php", "artisan", "queue:work", "sync"])
    assert cmd is not None and cmd.connection == "sync" and cmd.queues is None
    assert cmd.effective() == {"tries": 1, "timeout": 60, "sleep": 3, "memory": 128, "max_jobs": 0,
                               "max_time": 0, "backoff": 0}


def test_worker_command_in_shell_wrapper() -> None:
    words = command_words({"entryPoint": ["sh", "-c"],
                           "command": ["php artisan config:cache && php artisan queue:work redis --queue=bulk "
                                       "--timeout=60"]})
    cmd = parse_worker_command(words)
    assert cmd is not None and cmd.connection == "redis" and cmd.queues == ["bulk"]
    assert cmd.options["timeout"] == 60


def test_no_worker_command() -> None:
    assert parse_worker_command(["php-fpm"]) is None


def test_head_job_age_sources() -> None:
    h = HeadJob.parse('{"uuid":"u1","displayName":"App\\\\Jobs\\\\Resize","attempts":2,"maxTries":3,'
                      '"createdAt":1700000000}')
    assert h is not None and h.attempts == 2 and h.max_tries == 3 and h.created_at == 1700000000
    assert h.age_source == "createdAt" and h.id == "u1"
    h = HeadJob.parse('{"id":"x","pushedAt":"1700000000.1234","attempts":0}')
    assert h is not None and h.age_source == "pushedAt" and h.created_at == pytest.approx(1700000000.1234)
    h = HeadJob.parse(b"not json")
    assert h is not None and h.created_at is None and h.attempts is None


def test_prefix_origin_names_the_settings() -> None:
    o = prefix_origin("laravel_database_", 1)
    assert o["REDIS_DB"] == 1 and "'laravel'" in o["APP_NAME"]
    o = prefix_origin("custom:", 0)
    assert o["REDIS_PREFIX"] == "'custom:'" and "APP_NAME" not in o


def test_exception_class() -> None:
    assert exception_class("Illuminate\\Database\\QueryException: SQLSTATE[HY000] [2002]") == \
        "Illuminate\\Database\\QueryException"
    assert exception_class("RuntimeException") == "RuntimeException"
