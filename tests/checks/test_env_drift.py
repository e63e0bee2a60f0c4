"""env.drift: the web tier's .env against SSM, by fingerprint; DB host and Redis target called out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from doctor.model import CheckStatus

from support.ecs_helpers import deny, fast_session, kinds, run_check, run_checks, signals

ID = "env.drift"


@pytest.fixture(scope="module")
def world() -> Iterator[Any]:
    """One healthy moto world for the module: env.drift only reads AWS, so tests can share it."""
    from moto import mock_aws

    from doctor.sim.world import build_world, pin_ecs_task_status

    with mock_aws():
        pin_ecs_task_status()
        yield build_world(fast_session())


def env_text(world: Any, **changes: str | None) -> str:
    """The .env a web tier in sync with the world's SSM would have, with ``changes`` (None deletes)."""
    ssm = fast_session().client("ssm")
    values: dict[str, str] = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=world.spec.ssm_path, WithDecryption=True):
        for p in page["Parameters"]:
            values[p["Name"].rsplit("/", 1)[-1]] = p["Value"]
    for k, v in changes.items():
        if v is None:
            values.pop(k, None)
        else:
            values[k] = v
    lines = ["# production .env of the web tier", ""]
    for k, v in values.items():
        lines.append(f'{k}="{v}"' if k == "APP_NAME" else f"export {k}={v}" if k == "APP_ENV" else f"{k}={v}")
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "production.env"
    p.write_text(text)
    return str(p)


def test_no_env_file_is_unknown_with_unlock(world: Any) -> None:
    r = run_check(ID)
    assert r.status == CheckStatus.unknown and r.unlock == "--env-file PATH"
    r = run_check(ID, env={"file": "/nonexistent/prod.env"})
    assert r.status == CheckStatus.unknown and "no such file" in r.summary


def test_in_sync_is_ok(world: Any, tmp_path: Path) -> None:
    r = run_check(ID, env={"file": write(tmp_path, env_text(world))})
    assert r.status == CheckStatus.passed, r.findings
    assert signals(r) == {"drift.ok"}
    assert r.findings[0].evidence["keys_compared"] == 15


def test_secret_difference_by_fingerprint_never_printed(world: Any, tmp_path: Path) -> None:
    path = write(tmp_path, env_text(world, DB_PASSWORD="web-tier-pw-9911", QUEUE_CONNECTION="sync"))
    report = run_checks(ID, env={"file": path})
    r = report.check(ID)
    assert r is not None and r.status == CheckStatus.fail
    by_uid = {f.uid: f for f in r.findings}
    pw = by_uid["env.drift:value_differs:DB_PASSWORD"]
    assert pw.signals == ["drift.value_differs"] and pw.severity.value == "error"
    assert pw.evidence["env_fingerprint"].startswith("hmac:") and pw.evidence["env_fingerprint"] != pw.evidence["ssm_fingerprint"]
    assert "env_value" not in pw.evidence and "ssm_value" not in pw.evidence
    assert pw.title.endswith("DB_PASSWORD differs between " + path + " and " + world.spec.ssm_path.rstrip("/")
                             + "/DB_PASSWORD (secret: compared by fingerprint)")
    qc = by_uid["env.drift:value_differs:QUEUE_CONNECTION"]
    assert qc.evidence["env_value"] == "sync" and qc.evidence["ssm_value"] == "redis"  # non-secret: shown
    assert qc.title.endswith("/QUEUE_CONNECTION") and "(secret:" not in qc.title
    dumped = report.to_json()
    assert "web-tier-pw-9911" not in dumped and world.spec.db_password not in dumped


def test_db_host_differs_called_out(world: Any, tmp_path: Path) -> None:
    path = write(tmp_path, env_text(world, DB_HOST=world.db_reader_endpoint))
    r = run_check(ID, env={"file": path})
    f = next(f for f in r.findings if "drift.db_host_differs" in f.signals)
    assert f.uid == "env.drift:db_host_differs:DB_HOST" and f.severity.value == "critical"
    assert f.evidence["env_value"] == world.db_reader_endpoint and f.evidence["ssm_value"] == world.db_writer_endpoint
    assert f.title == f"DB_HOST differs: the web tier uses {world.db_reader_endpoint}, the workers {world.db_writer_endpoint}"
    assert "drift.value_differs" not in signals(r)  # not reported twice


def test_a_secret_db_host_differs_without_showing_either_host(world: Any, tmp_path: Path) -> None:
    ssm = fast_session().client("ssm")
    name = world.spec.ssm_path.rstrip("/") + "/DB_HOST"
    ssm.put_parameter(Name=name, Value=world.db_writer_endpoint, Type="SecureString", Overwrite=True)
    try:
        r = run_check(ID, env={"file": write(tmp_path, env_text(world, DB_HOST=world.db_reader_endpoint))})
    finally:
        ssm.put_parameter(Name=name, Value=world.db_writer_endpoint, Type="String", Overwrite=True)
    f = next(f for f in r.findings if f.uid == "env.drift:db_host_differs:DB_HOST")
    assert (f.title, f.severity.value, f.signals) == ("DB_HOST differs between the web tier and the workers", "critical",
                                                      ["drift.db_host_differs"])
    assert "env_value" not in f.evidence and world.db_reader_endpoint not in f.model_dump_json()


@pytest.mark.parametrize(("changes", "parts"), [
    ({"REDIS_HOST": "old-redis.abc.euw1.cache.amazonaws.com"}, {"host"}),
    ({"REDIS_DB": "1"}, {"db"}),
    ({"REDIS_PORT": "6380"}, {"port"}),
    ({"APP_NAME": "PropertyFeed Template"}, {"prefix", "APP_NAME"}),
    ({"REDIS_PREFIX": "pft_"}, {"prefix"}),
])
def test_redis_target_differs(world: Any, tmp_path: Path, changes: dict[str, str], parts: set[str]) -> None:
    r = run_check(ID, env={"file": write(tmp_path, env_text(world, **changes))})
    f = next(f for f in r.findings if "drift.redis_target_differs" in f.signals)
    assert set(f.evidence["differs"]) == parts
    assert r.status == CheckStatus.fail


def test_app_name_with_same_slug_is_the_same_prefix(world: Any, tmp_path: Path) -> None:
    # Str::slug('PropertyFeedTemplate', '_') == 'propertyfeedtemplate': the queue keys are the same
    r = run_check(ID, env={"file": write(tmp_path, env_text(world, APP_NAME="PropertyFeedTemplate"))})
    assert "drift.redis_target_differs" not in signals(r)
    assert "env.drift:value_differs:APP_NAME" not in {f.uid for f in r.findings}


def test_missing_keys_both_ways(world: Any, tmp_path: Path) -> None:
    path = write(tmp_path, env_text(world, MAIL_MAILER="ses", AWS_BUCKET=None))
    r = run_check(ID, env={"file": path})
    assert kinds(r) == {"key_missing_in_ssm", "key_missing_in_env"}
    by_kind = {f.uid.split(":")[1]: f for f in r.findings}
    assert by_kind["key_missing_in_ssm"].evidence["keys"] == ["MAIL_MAILER"]
    assert by_kind["key_missing_in_ssm"].severity.value == "warning"
    assert by_kind["key_missing_in_env"].evidence["keys"] == ["AWS_BUCKET"]
    assert r.status == CheckStatus.warn


def test_interpolation_applied_before_comparing(world: Any, tmp_path: Path) -> None:
    text = env_text(world, AWS_BUCKET="${APP_NAME}-production-media")
    r = run_check(ID, env={"file": write(tmp_path, text)})
    assert signals(r) == {"drift.ok"}, r.findings


def test_malformed_lines_reported_and_rest_compared(world: Any, tmp_path: Path) -> None:
    text = env_text(world) + "MAIL_FROM_NAME=Property Feed\nBROKEN='unclosed\n"
    r = run_check(ID, env={"file": write(tmp_path, text)})
    f = next(f for f in r.findings if "drift.env_malformed" in f.signals)
    assert [e["line"] for e in f.evidence["errors"]] == [18, 19]
    assert {e["key"] for e in f.evidence["errors"]} == {"MAIL_FROM_NAME", "BROKEN"}
    assert "Property Feed" not in json.dumps(f.model_dump())
    assert r.status == CheckStatus.fail
    assert "drift.value_differs" not in signals(r)  # the well-formed lines still match


def test_ssm_denied_is_unknown(monkeypatch: pytest.MonkeyPatch, world: Any, tmp_path: Path) -> None:
    path = write(tmp_path, env_text(world))
    deny(monkeypatch, "ssm", "GetParametersByPath")
    r = run_check(ID, env={"file": path})
    assert r.status == CheckStatus.unknown and r.unlock == "ssm:GetParametersByPath"


def test_laravel_env_literals_are_compared_as_laravel_reads_them(world: Any, tmp_path: Path) -> None:
    text = env_text(world, LOG_CHANNEL='"stderr"', REDIS_PASSWORD="null", MAIL_PASSWORD="(null)")
    r = run_check(ID, env={"file": write(tmp_path, text)})
    assert signals(r) == {"drift.ok"}, r.findings  # null on one side == absent on the other


def test_secure_redis_host_is_fingerprinted(world: Any, tmp_path: Path) -> None:
    ssm = fast_session().client("ssm")
    name = world.spec.ssm_path + "REDIS_HOST"
    ssm.put_parameter(Name=name, Value=world.redis_host, Type="SecureString", Overwrite=True)
    try:
        report = run_checks(ID, env={"file": write(tmp_path, env_text(world, REDIS_HOST="other-redis.internal"))})
    finally:
        ssm.put_parameter(Name=name, Value=world.redis_host, Type="String", Overwrite=True)
    r = report.check(ID)
    assert r is not None
    f = next(f for f in r.findings if "drift.redis_target_differs" in f.signals)
    assert f.evidence["differs"]["host"]["env"].startswith("hmac:")
    assert "other-redis.internal" not in report.to_json() and world.redis_host not in report.to_json()
