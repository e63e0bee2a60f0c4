"""CloudTrail as a change source, against the LookupEvents stand-in (doctor/sim/cloudtrail.py) reached the way
botocore reaches any CloudTrail endpoint (AWS_ENDPOINT_URL_CLOUDTRAIL): one lookup per catalogued event name,
NextToken pages within a bound, throttling absorbed or reported, a denial naming the IAM action, failed calls
left out, request parameters redacted, IAM's events read in us-east-1."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from doctor.aws import AwsSession, is_allowed
from doctor.model import SourceStatus, Timeline
from doctor.redact import Redactor
from doctor.sim.cloudtrail import CloudTrailStandIn, event
from doctor.timeline.assemble import scrub
from doctor.timeline.catalogue import BY_NAME, CATALOGUE
from doctor.timeline.cloudtrail import SecretKeys, parse, principal, read, redact_request
from doctor.timeline.sources import SourceRead, Window, guarded

NOW = datetime.now(UTC).replace(microsecond=0)
PARAM = "/propertyfeedtemplate/production/DB_HOST"


def _window(hours: float = 24) -> Window:
    return Window(since=NOW - timedelta(hours=hours), until=NOW)


def _read(max_pages: int = 5, kinds: list[str] | None = None, redactor: Redactor | None = None,
          **session: Any) -> SourceRead:
    aws = AwsSession("eu-west-1", **session)
    chosen = [BY_NAME[k] for k in kinds] if kinds else list(CATALOGUE)
    return guarded("cloudtrail", lambda out: read(out, aws, _window(), max_pages, redactor or Redactor(), chosen))


def _put(trail: CloudTrailStandIn, n: int, minutes_apart: float = 1, **kw: Any) -> None:
    for i in range(n):
        trail.add(event("PutParameter", "ssm.amazonaws.com", NOW - timedelta(minutes=1 + i * minutes_apart),
                        {"name": PARAM, "type": "String", "overwrite": True, "value": f"db-{i}.example"}, **kw))


def test_every_page_of_every_event_name_is_read(cloudtrail: CloudTrailStandIn) -> None:
    _put(cloudtrail, 120)
    cloudtrail.add(event("RevokeSecurityGroupIngress", "ec2.amazonaws.com", NOW - timedelta(minutes=5),
                         {"groupId": "sg-0aaa1111bbbb2222c", "securityGroupRuleIds": {"items": [
                             {"securityGroupRuleId": "sgr-1"}]}}))
    out = _read()
    assert out.status == SourceStatus.ok, out.note
    assert len(out.events) == 121
    puts = [c["request"] for c in cloudtrail.calls if c["request"]["LookupAttributes"][0]["AttributeValue"] == "PutParameter"]
    assert len(puts) == 3 and "NextToken" not in puts[0] and all("NextToken" in p for p in puts[1:])
    asked = {c["request"]["LookupAttributes"][0]["AttributeValue"] for c in cloudtrail.calls}
    assert asked == {k.name for k in CATALOGUE}
    assert all(c["request"]["MaxResults"] == 50 for c in cloudtrail.calls)
    revoke = next(e for e in out.events if e.detail["event"] == "RevokeSecurityGroupIngress")
    assert revoke.resources == ["sg:sg-0aaa1111bbbb2222c"] and revoke.title == "SG sg-0aaa1111bbbb2222c ingress rule revoked"
    assert revoke.actor == "AWSReservedSSO_PlatformAdmin_5f1e/alex@example.com"


def test_the_page_bound_keeps_the_newest_and_says_so(cloudtrail: CloudTrailStandIn) -> None:
    _put(cloudtrail, 130)
    out = _read(max_pages=2, kinds=["PutParameter"])
    assert out.status == SourceStatus.partial
    assert "more than 100 PutParameter events" in out.note
    assert len(out.events) == 100
    oldest_read = min(e.at for e in out.events)
    assert oldest_read == (NOW - timedelta(minutes=100)).isoformat()


def test_only_the_window_is_asked_for_and_kept(cloudtrail: CloudTrailStandIn) -> None:
    _put(cloudtrail, 3, minutes_apart=60 * 20)  # 1 min, 20 h, 40 h ago
    out = _read(kinds=["PutParameter"])
    assert len(out.events) == 2
    request = cloudtrail.calls[0]["request"]
    assert request["EndTime"] - request["StartTime"] == pytest.approx(24 * 3600)


def test_short_throttling_is_absorbed_by_the_sdk_retry(cloudtrail: CloudTrailStandIn) -> None:
    _put(cloudtrail, 2)
    cloudtrail.throttle_next = 2
    out = _read(kinds=["PutParameter"])
    assert out.status == SourceStatus.ok and len(out.events) == 2
    assert len(cloudtrail.calls) == 3


def test_lasting_throttling_stops_the_reading_and_says_how_far_it_got(cloudtrail: CloudTrailStandIn) -> None:
    _put(cloudtrail, 2)
    cloudtrail.throttle_next = 10_000
    out = _read(kinds=["PutParameter", "DeleteParameter"], max_attempts=2)
    assert out.status == SourceStatus.partial
    assert out.note == "throttled by CloudTrail at PutParameter; 0 of 2 event names read"


def test_denied_names_the_iam_action(cloudtrail: CloudTrailStandIn) -> None:
    cloudtrail.deny = True
    out = _read()
    assert (out.status, out.unlock) == (SourceStatus.missing, "cloudtrail:LookupEvents")
    assert len(cloudtrail.calls) == 1  # the first denial stops the source


def test_failed_calls_changed_nothing(cloudtrail: CloudTrailStandIn) -> None:
    cloudtrail.add(event("PutParameter", "ssm.amazonaws.com", NOW - timedelta(minutes=3),
                         {"name": PARAM, "type": "String"}, error_code="AccessDenied"))
    _put(cloudtrail, 1)
    out = _read(kinds=["PutParameter"])
    assert len(out.events) == 1


def test_global_service_events_are_read_in_us_east_1(cloudtrail: CloudTrailStandIn) -> None:
    role_event = event("DeleteRolePolicy", "iam.amazonaws.com", NOW - timedelta(minutes=15),
                       {"roleName": "ame-ecs-execution", "policyName": "ssm-read"}, region="us-east-1")
    cloudtrail.add(role_event, region="us-east-1")
    out = _read(kinds=["DeleteRolePolicy", "PutParameter"])
    assert [e.title for e in out.events] == ["IAM role ame-ecs-execution policy ssm-read deleted"]
    regions = {c["request"]["LookupAttributes"][0]["AttributeValue"]: c["region"] for c in cloudtrail.calls}
    assert regions == {"DeleteRolePolicy": "us-east-1", "PutParameter": "eu-west-1"}


def test_request_parameters_are_redacted_and_values_never_shown() -> None:
    redactor = Redactor()
    redactor.add_secret("s3cret-db-password")
    keys = SecretKeys(redactor)
    raw = event("ModifyDBCluster", "rds.amazonaws.com", NOW, {
        "dBClusterIdentifier": "ame-aurora", "masterUserPassword": "Sup3rSecret!", "applyImmediately": True,
        "description": "rotated from s3cret-db-password"})
    e = parse(raw, keys)
    assert e is not None
    assert e.detail["request"]["masterUserPassword"] == "***"
    scrub(Timeline(events=[e]), redactor)  # the run's redactor, once every secret of the run is known
    assert e.detail["request"] == {"dBClusterIdentifier": "ame-aurora", "masterUserPassword": "***",
                                   "applyImmediately": True, "description": "rotated from ***"}
    put = parse(event("PutParameter", "ssm.amazonaws.com", NOW, {"name": PARAM, "type": "String",
                                                                 "value": "db.example.internal"}), keys)
    assert put is not None and "db.example.internal" not in put.model_dump_json()
    env = redact_request({"containerDefinitions": [{"environment": [
        {"name": "DB_PASSWORD", "value": "plain-pw"}, {"name": "DB_HOST", "value": "db.internal"}]}]}, keys)
    assert env["containerDefinitions"][0]["environment"] == [{"name": "DB_PASSWORD", "value": "***"},
                                                             {"name": "DB_HOST", "value": "db.internal"}]


@pytest.mark.parametrize(("identity", "who"), [
    ({"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/deploy/alex"}, "deploy/alex"),
    ({"type": "IAMUser", "arn": "arn:aws:iam::1:user/jane", "userName": "jane"}, "jane"),
    ({"type": "Root", "arn": "arn:aws:iam::1:root"}, "root"),
    ({"type": "AWSService", "invokedBy": "ecs.amazonaws.com"}, "AWS ecs.amazonaws.com"),
    (None, "fallback-user"),
])
def test_principal(identity: dict[str, str] | None, who: str) -> None:
    assert principal(identity, "fallback-user") == who


def test_every_catalogued_write_reads_as_a_sentence_and_touches_a_resource() -> None:
    requests: dict[str, dict[str, Any]] = {
        "PutParameter": {"name": PARAM, "overwrite": True, "type": "String"},
        "DeleteParameter": {"name": PARAM}, "LabelParameterVersion": {"name": PARAM, "labels": ["prod"]},
        "AuthorizeSecurityGroupIngress": {"groupId": "sg-0aaa1111bbbb2222c", "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 6379, "toPort": 6379, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/24"}]}}]}},
        "RevokeSecurityGroupIngress": {"groupId": "sg-0aaa1111bbbb2222c"},
        "ModifySecurityGroupRules": {"groupId": "sg-0aaa1111bbbb2222c"},
        "CreateNetworkAclEntry": {"networkAclId": "acl-0123456789abcdef0", "ruleNumber": 90, "egress": True,
                                  "ruleAction": "deny", "aclProtocol": "6", "portRange": {"from": 3306, "to": 3306},
                                  "cidrBlock": "10.20.10.0/24"},
        "ReplaceNetworkAclEntry": {"networkAclId": "acl-0123456789abcdef0"},
        "DeleteNetworkAclEntry": {"networkAclId": "acl-0123456789abcdef0"},
        "UpdateService": {"service": "arn:aws:ecs:eu-west-1:1:service/c/app-image", "desiredCount": 0},
        "RegisterTaskDefinition": {"family": "app-image"}, "CreateService": {"serviceName": "app-image"},
        "ModifyDBCluster": {"dBClusterIdentifier": "ame-aurora"}, "FailoverDBCluster": {"dBClusterIdentifier": "ame-aurora"},
        "DeleteDBCluster": {"dBClusterIdentifier": "ame-aurora"},
        "ModifyReplicationGroup": {"replicationGroupId": "ame-redis", "cacheNodeType": "cache.r6g.large"},
        "TestFailover": {"replicationGroupId": "ame-redis", "nodeGroupId": "0001"},
        "UpdateFunctionConfiguration20150331v2": {"functionName": "scaler", "timeout": 30},
        "DisableRule": {"name": "scaler-tick"}, "PutRule": {"name": "scaler-tick", "state": "DISABLED"},
        "PutRolePolicy": {"roleName": "exec", "policyName": "ssm"}, "DeleteRolePolicy": {"roleName": "exec", "policyName": "ssm"},
        "AttachRolePolicy": {"roleName": "exec", "policyArn": "arn:aws:iam::aws:policy/Foo"},
        "DetachRolePolicy": {"roleName": "exec", "policyArn": "arn:aws:iam::aws:policy/Foo"},
    }
    assert set(requests) == set(BY_NAME)
    titles = {}
    for name, request in requests.items():
        e = parse(event(name, BY_NAME[name].source, NOW, request, resources=[]), SecretKeys(Redactor()))
        assert e is not None and e.resources, name
        titles[name] = e.title
    assert titles["UpdateService"] == "ECS service app-image updated: desired count set to 0"
    assert titles["AuthorizeSecurityGroupIngress"] == "SG sg-0aaa1111bbbb2222c ingress rule added (tcp 6379 from 10.0.0.0/24)"
    assert titles["CreateNetworkAclEntry"] == ("network ACL acl-0123456789abcdef0 egress entry 90 added "
                                               "(deny tcp 3306 10.20.10.0/24)")
    assert titles["DetachRolePolicy"] == "IAM role exec policy Foo detached"


def test_lookups_and_parameter_history_are_reads_for_the_guard() -> None:
    assert is_allowed("LookupEvents") and is_allowed("GetParameterHistory")


# --- the stand-in answers as the documented API does --------------------------------------------------
def _client(trail: CloudTrailStandIn) -> Any:
    return boto3.Session(region_name="eu-west-1").client("cloudtrail", endpoint_url=trail.url)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "A"},
                           {"AttributeKey": "EventName", "AttributeValue": "B"}]}, "InvalidLookupAttributesException"),
    ({"MaxResults": 51}, "InvalidMaxResultsException"),
    ({"StartTime": NOW, "EndTime": NOW - timedelta(hours=1)}, "InvalidTimeRangeException"),
    ({"NextToken": "bm90LXRoaXMtcXVlcnk6NTA="}, "InvalidNextTokenException"),
])
def test_the_stand_in_refuses_what_cloudtrail_refuses(cloudtrail: CloudTrailStandIn, kwargs: dict[str, Any],
                                                      code: str) -> None:
    with pytest.raises(ClientError) as e:
        _client(cloudtrail).lookup_events(**kwargs)
    assert e.value.response["Error"]["Code"] == code


def test_the_stand_in_pages_newest_first_with_the_documented_shape(cloudtrail: CloudTrailStandIn) -> None:
    _put(cloudtrail, 3)
    client = _client(cloudtrail)
    first = client.lookup_events(MaxResults=2)
    second = client.lookup_events(MaxResults=2, NextToken=first["NextToken"])
    events = first["Events"] + second["Events"]
    assert "NextToken" not in second and len(events) == 3
    assert [e["EventTime"] for e in events] == sorted((e["EventTime"] for e in events), reverse=True)
    record = json.loads(events[0]["CloudTrailEvent"])
    assert {"EventId", "EventName", "ReadOnly", "AccessKeyId", "EventTime", "EventSource", "Username", "Resources",
            "CloudTrailEvent"} <= set(events[0])
    assert record["userIdentity"]["type"] == "AssumedRole" and record["requestParameters"]["name"] == PARAM
    assert events[0]["Resources"] == [{"ResourceType": "AWS::SSM::Parameter", "ResourceName": PARAM}]
