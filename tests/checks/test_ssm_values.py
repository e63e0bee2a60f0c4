"""ssm.values against moto: presence, emptiness, well-formedness, SecureString, task-definition refs, staleness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checks.ssm_values import _param_name, invalid_reason
from doctor.model import CheckStatus

from support import ecs_helpers
from support.ecs_helpers import backend_task, deny, kinds, run_check, run_checks, signals

moto_session = ecs_helpers.moto_session  # overrides conftest's: same world, shared botocore loader

ID = "ssm.values"
PATH = "/propertyfeedtemplate/production/"


def ssm(session: Any) -> Any:
    return session.client("ssm", region_name="eu-west-1")


def test_healthy_world_is_ok_and_secrets_never_shown(world: Any) -> None:
    report = run_checks(ID)
    r = report.check(ID)
    assert r is not None and r.status == CheckStatus.passed, r
    assert signals(r) == {"ssm.ok"}
    dumped = report.to_json()
    assert world.spec.app_key[7:] not in dumped and world.spec.db_password not in dumped


def test_empty_path_is_critical(world: Any) -> None:
    r = run_check(ID, ssm={"path": "/propertyfeedtemplate/staging/"})
    assert r.status == CheckStatus.fail
    assert r.findings[0].uid == "ssm.values:path_empty:/propertyfeedtemplate/staging/"
    assert r.findings[0].signals == ["ssm.param_missing"]


def test_missing_and_empty_required(moto_session: Any, world: Any) -> None:
    ssm(moto_session).delete_parameter(Name=PATH + "DB_PORT")
    ssm(moto_session).put_parameter(Name=PATH + "DB_DATABASE", Value=" ", Type="String", Overwrite=True)
    r = run_check(ID)
    by_uid = {f.uid: f for f in r.findings}
    assert by_uid[f"ssm.values:param_missing:{PATH}DB_PORT"].signals == ["ssm.param_missing"]
    assert by_uid[f"ssm.values:param_empty:{PATH}DB_DATABASE"].signals == ["ssm.param_empty"]
    assert "ssm.ok" not in signals(r) and r.status == CheckStatus.fail


def test_malformed_values(moto_session: Any, world: Any) -> None:
    c = ssm(moto_session)
    c.put_parameter(Name=PATH + "DB_HOST", Value="mysql://db.internal:3306", Type="String", Overwrite=True)
    c.put_parameter(Name=PATH + "REDIS_PORT", Value="6379x", Type="String", Overwrite=True)
    c.put_parameter(Name=PATH + "APP_KEY", Value="base64:c2hvcnQta2V5", Type="SecureString", Overwrite=True)
    report = run_checks(ID)
    r = report.check(ID)
    assert r is not None
    by_uid = {f.uid: f for f in r.findings}
    host = by_uid[f"ssm.values:value_invalid:{PATH}DB_HOST"]
    assert host.evidence["value"] == "mysql://db.internal:3306" and "scheme" in host.evidence["reason"]
    assert f"ssm.values:value_invalid:{PATH}REDIS_PORT" in by_uid
    key = by_uid[f"ssm.values:value_invalid:{PATH}APP_KEY"]
    assert "value" not in key.evidence and "32" in key.evidence["reason"]
    assert "c2hvcnQta2V5" not in report.to_json()


@pytest.mark.parametrize(("key", "value", "ok"), [
    ("DB_HOST", "ame-aurora.cluster-abc.eu-west-1.rds.amazonaws.com", True),
    ("DB_HOST", "10.20.10.5", True),
    ("DB_HOST", "db.internal:3306", False),
    ("DB_HOST", "bad host", False),
    ("DB_PORT", "0", False),
    ("DB_PORT", "3306", True),
    ("APP_KEY", "base64:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", True),
    ("APP_KEY", "0123456789abcdef0123456789abcdef", False),
    ("APP_KEY", "base64:!!!", False),
    ("AWS_BUCKET", "propertyfeedtemplate-production-media", True),
    ("AWS_BUCKET", "Bad_Bucket", False),
])
def test_invalid_reason(key: str, value: str, ok: bool) -> None:
    assert (invalid_reason(key, value) is None) == ok


@pytest.mark.parametrize(("value_from", "name"), [
    ("arn:aws:ssm:eu-west-1:123456789012:parameter/propertyfeedtemplate/production/APP_KEY",
     "/propertyfeedtemplate/production/APP_KEY"),
    ("arn:aws:ssm:eu-west-1:123456789012:parameter/DB_PASSWORD", "DB_PASSWORD"),
    ("/propertyfeedtemplate/production/APP_KEY", "/propertyfeedtemplate/production/APP_KEY"),
    ("DB_PASSWORD", "DB_PASSWORD"),
    ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf", None),
])
def test_param_name(value_from: str, name: str | None) -> None:
    assert _param_name(value_from) == name


def test_secret_stored_as_string(moto_session: Any, world: Any) -> None:
    ssm(moto_session).put_parameter(Name=PATH + "MAIL_PASSWORD", Value="smtp-pw-123", Type="String")
    r = run_check(ID)
    f = next(f for f in r.findings if f.signals == ["ssm.secret_not_secure"])
    assert f.uid == f"ssm.values:secret_not_secure:{PATH}MAIL_PASSWORD" and f.severity.value == "warning"
    assert r.status == CheckStatus.warn


def test_weak_secrets_are_named_never_shown(moto_session: Any, world: Any) -> None:
    """A SecureString `true` and a password `prod` are too weak to scrub as text: a warning names each
    parameter; neither the value nor what kind of value it is appears in the finding."""
    client = ssm(moto_session)
    client.put_parameter(Name=PATH + "FEATURE_FLAG", Value="true", Type="SecureString")
    client.put_parameter(Name=PATH + "DB_PASSWORD", Value="prod", Type="SecureString", Overwrite=True)
    client.put_parameter(Name=PATH + "LONG_SECURE", Value="n0t-weak-at-all-4f1c", Type="SecureString")
    client.put_parameter(Name=PATH + "PLAIN_FLAG", Value="true", Type="String")  # not a secret
    r = run_check(ID)
    weak = [f for f in r.findings if f.signals == ["ssm.secret_weak"]]
    assert sorted(f.evidence["parameter"] for f in weak) == [PATH + "DB_PASSWORD", PATH + "FEATURE_FLAG"]
    assert all(f.severity.value == "warning" for f in weak) and r.status == CheckStatus.warn
    for f in weak:
        assert '"prod"' not in f.model_dump_json() and '"true"' not in f.model_dump_json()
        assert f.evidence == {"parameter": f.resources[0], "type": "SecureString"}


def test_taskdef_secret_points_at_missing_parameter(moto_session: Any, world: Any) -> None:
    ecs = moto_session.client("ecs", region_name="eu-west-1")
    service = world.services["image"]
    td = ecs.describe_task_definition(taskDefinition=world.task_definitions[service])["taskDefinition"]
    container = td["containerDefinitions"][0]
    container["secrets"] = container["secrets"] + [
        {"name": "DB_PASSWORD", "valueFrom": f"arn:aws:ssm:eu-west-1:123456789012:parameter{PATH}DB_PASSWORD_OLD"},
        {"name": "SHARED", "valueFrom": "/shared/production/SENTRY_DSN"},   # outside the path, exists
    ]
    ssm(moto_session).put_parameter(Name="/shared/production/SENTRY_DSN", Value="https://x@sentry", Type="String")
    new = ecs.register_task_definition(
        family=td["family"], networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="512", memory="1024",
        executionRoleArn=td["executionRoleArn"], containerDefinitions=[container])["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=world.spec.cluster, service=service, taskDefinition=new)
    r = run_check(ID)
    assert kinds(r) == {"taskdef_ref_missing"}
    f = r.findings[0]
    assert f.uid == f"ssm.values:taskdef_ref_missing:{PATH}DB_PASSWORD_OLD" and f.severity.value == "critical"
    assert f.evidence["referenced_by"] == [f"{service}/app/DB_PASSWORD"]


def test_parameter_newer_than_running_tasks(moto_session: Any, world: Any) -> None:
    service = world.services["sync"]
    for arn in world.tasks[service]:
        backend_task(world.spec.cluster, arn).started_at = datetime.now(UTC) - timedelta(hours=2)
    for other in (world.services["image"], world.services["bulk"]):
        for arn in world.tasks[other]:
            backend_task(world.spec.cluster, arn).started_at = datetime.now(UTC) + timedelta(minutes=5)
    from moto.ssm.models import ssm_backends

    for versions in ssm_backends["123456789012"]["eu-west-1"]._parameters.values():
        for p in versions:  # moto stamps every parameter with the time of its put: age them
            p.last_modified_date = datetime.now(UTC) - timedelta(hours=3)
    ssm(moto_session).put_parameter(Name=PATH + "REDIS_HOST", Value=world.redis_host, Type="String", Overwrite=True)
    r = run_check(ID)
    assert kinds(r) == {"newer_than_tasks"}
    f = r.findings[0]
    assert f.uid == f"ssm.values:newer_than_tasks:{service}"
    assert f.evidence["parameters"] == [PATH + "REDIS_HOST"] and "--force-new-deployment" in f.remediation


def test_access_denied_is_unknown(monkeypatch: pytest.MonkeyPatch, world: Any) -> None:
    deny(monkeypatch, "ssm", "GetParametersByPath")
    r = run_check(ID)
    assert r.status == CheckStatus.unknown and r.unlock == "ssm:GetParametersByPath"
