"""The burst/drain controller as AWS describes it, fetched once per run (``facts.memo``).

- a Lambda controller: its configuration, its triggers (EventBridge rules targeting it, else EventBridge
  Scheduler schedules), its CloudWatch metrics over a window, its recent log lines, its VPC subnets and
  how they reach an AWS service API;
- an Application Auto Scaling controller: the ECS services' scalable targets, policies and activities.

Judgements live in ``checks/scaler_controller.py``; nothing here decides what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from doctor.aws import error_code
from doctor.facts.network import Path, Subnet, endpoint_for, route_table_for
from doctor.util import to_datetime

if TYPE_CHECKING:
    from doctor.facts.core import Facts

METRICS = ("Errors", "Throttles", "Invocations")
MAX_LOG_PAGES = 3       # FilterLogEvents pages read from /aws/lambda/<function>
LOG_PAGE_SIZE = 500
MAX_SCHEDULES = 50      # EventBridge Scheduler schedules looked into when no rule targets the function
ECS_DIMENSION = "ecs:service:DesiredCount"


@dataclass(frozen=True)
class Trigger:
    """What invokes the function: an EventBridge rule or a Scheduler schedule."""

    kind: str                  # "rule" | "schedule"
    name: str
    state: str                 # ENABLED | DISABLED | ...
    expression: str            # rate(...) / cron(...) / "" (an event pattern)
    targets_function: bool


def lambda_function(facts: Facts, name: str) -> dict[str, Any] | None:
    """GetFunctionConfiguration of ``name`` (name or ARN); None when it does not exist."""

    def fetch() -> dict[str, Any] | None:
        try:
            return dict(facts.aws.client("lambda").get_function_configuration(FunctionName=name))
        except Exception as e:
            if error_code(e) == "ResourceNotFoundException":
                return None
            raise

    return facts.memo(("scaler.function", name), fetch)


def triggers(facts: Facts, function_arn: str, rule: str | None) -> list[Trigger]:
    """The named rule (whatever it targets), else every EventBridge rule targeting the function, else the
    Scheduler schedules whose target is the function."""

    def fetch() -> list[Trigger]:
        events = facts.aws.client("events")
        names = [rule] if rule else _rules_targeting(events, function_arn)
        out: list[Trigger] = []
        for name in names:
            try:
                desc = events.describe_rule(Name=name)
            except Exception as e:
                if error_code(e) == "ResourceNotFoundException":
                    continue
                raise
            targets = events.list_targets_by_rule(Rule=name).get("Targets", [])
            out.append(Trigger("rule", name, str(desc.get("State", "")), str(desc.get("ScheduleExpression") or ""),
                               any(_same_function(t.get("Arn", ""), function_arn) for t in targets)))
        if not out and not rule:
            out.extend(_schedules_targeting(facts, function_arn))
        return out

    return facts.memo(("scaler.triggers", function_arn, rule), fetch)


def _rules_targeting(events: Any, function_arn: str) -> list[str]:
    names: list[str] = []
    kw: dict[str, Any] = {}
    for _ in range(10):
        resp = events.list_rule_names_by_target(TargetArn=function_arn, **kw)
        names.extend(resp.get("RuleNames", []))
        if not resp.get("NextToken"):
            break
        kw = {"NextToken": resp["NextToken"]}
    return names


def _schedules_targeting(facts: Facts, function_arn: str) -> list[Trigger]:
    scheduler = facts.aws.client("scheduler")
    out: list[Trigger] = []
    seen = 0
    for page in scheduler.get_paginator("list_schedules").paginate():
        for s in page.get("Schedules", []):
            seen += 1
            if seen > MAX_SCHEDULES:
                return out
            if not _same_function((s.get("Target") or {}).get("Arn", ""), function_arn):
                detail = scheduler.get_schedule(Name=s["Name"], GroupName=s.get("GroupName", "default"))
                if not _same_function((detail.get("Target") or {}).get("Arn", ""), function_arn):
                    continue
                s = {**s, **detail}
            out.append(Trigger("schedule", str(s["Name"]), str(s.get("State", "")),
                               str(s.get("ScheduleExpression") or ""), True))
    return out


def _same_function(target: str, function_arn: str) -> bool:
    """A target ARN names the function (an alias or version qualifier still invokes it)."""
    base = function_arn.split(":function:", 1)[-1].split(":", 1)[0]
    return ":function:" in target and target.split(":function:", 1)[1].split(":", 1)[0] == base


_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")


def interval_seconds(expression: str) -> int | None:
    """How often a schedule expression fires: ``rate(N unit)``; ``cron(...)`` from its minute and hour fields."""
    m = _RATE.match(expression.strip())
    if m:
        unit = {"minute": 60, "hour": 3600, "day": 86400}[m.group(2).rstrip("s")]
        return int(m.group(1)) * unit
    if expression.startswith("cron(") and expression.endswith(")"):
        fields = expression[5:-1].split()
        if len(fields) >= 2:
            minute, hour = fields[0], fields[1]
            step = re.match(r"^(?:\*|\d+)/(\d+)$", minute)
            if minute == "*":
                return 60
            if step:
                return int(step.group(1)) * 60
            if hour in ("*", "?") or "/" in hour:
                return 3600
            return 86400
    return None


def lambda_metrics(facts: Facts, function: str, since: datetime, until: datetime) -> dict[str, float]:
    """Sum of Errors, Throttles and Invocations of the function over [since, until] (CloudWatch GetMetricData)."""

    def fetch() -> dict[str, float]:
        cw = facts.aws.client("cloudwatch")
        period = 300
        queries = [{"Id": m.lower(), "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": "AWS/Lambda", "MetricName": m,
                       "Dimensions": [{"Name": "FunctionName", "Value": function}]},
            "Period": period, "Stat": "Sum"}} for m in METRICS]
        totals = {m: 0.0 for m in METRICS}
        kw: dict[str, Any] = {}
        for _ in range(5):
            resp = cw.get_metric_data(MetricDataQueries=queries, StartTime=since, EndTime=until, **kw)
            for r in resp.get("MetricDataResults", []):
                name = next((m for m in METRICS if m.lower() == r.get("Id")), None)
                if name:
                    totals[name] += float(sum(r.get("Values", []) or []))
            if not resp.get("NextToken"):
                break
            kw = {"NextToken": resp["NextToken"]}
        return totals

    return facts.memo(("scaler.metrics", function, since.isoformat()), fetch)


def lambda_log_lines(facts: Facts, function: str, since: datetime) -> list[str] | None:
    """The function's log lines since ``since`` (bounded); None when its log group does not exist."""

    def fetch() -> list[str] | None:
        logs = facts.aws.client("logs")
        lines: list[str] = []
        kw: dict[str, Any] = {}
        for _ in range(MAX_LOG_PAGES):
            try:
                resp = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}",
                                              startTime=int(since.timestamp() * 1000), limit=LOG_PAGE_SIZE, **kw)
            except Exception as e:
                if error_code(e) == "ResourceNotFoundException":
                    return None
                raise
            lines.extend(str(e.get("message", "")).rstrip("\n") for e in resp.get("events", []))
            if not resp.get("nextToken"):
                break
            kw = {"nextToken": resp["nextToken"]}
        return lines

    return facts.memo(("scaler.logs", function, since.isoformat()), fetch)


def subnets(facts: Facts, ids: list[str]) -> dict[str, Subnet]:
    """DescribeSubnets for ``ids`` (the function's VPC subnets): id -> Subnet with its effective route table."""
    key = tuple(sorted(set(ids)))

    def fetch() -> dict[str, Subnet]:
        if not key:
            return {}
        resp = facts.aws.client("ec2").describe_subnets(SubnetIds=list(key))
        out: dict[str, Subnet] = {}
        for s in resp.get("Subnets", []):
            sn = Subnet(s["SubnetId"], s.get("CidrBlock", ""), s["VpcId"], s.get("AvailabilityZone", ""))
            table, is_main = route_table_for(facts, sn)
            sn.route_table, sn.route_table_main = (table or {}).get("RouteTableId"), is_main
            out[sn.id] = sn
        return out

    return facts.memo(("scaler.subnets", key), fetch)


def path_from(facts: Facts, subnet: Subnet, service: str) -> Path:
    """How ``subnet`` reaches an AWS service API (``ecs``): an interface endpoint with private DNS or a NAT
    route. A Lambda ENI never has a public IP, so an internet gateway is no path."""
    table, _ = route_table_for(facts, subnet)
    eps = [e for e in endpoint_for(facts, subnet.vpc_id, service) if e.get("VpcEndpointType") == "Interface"]
    with_dns = [e for e in eps if e.get("PrivateDnsEnabled")]
    if with_dns:
        return Path(subnet.id, service, "interface-endpoint", with_dns[0]["VpcEndpointId"], subnet.route_table)
    note = (f"interface endpoint {eps[0]['VpcEndpointId']} has private DNS disabled" if eps else "")
    for r in (table or {}).get("Routes", []):
        if r.get("DestinationCidrBlock") == "0.0.0.0/0" and str(r.get("State", "active")) == "active":
            if r.get("NatGatewayId"):
                return Path(subnet.id, service, "nat", r["NatGatewayId"], subnet.route_table, note)
            target = r.get("GatewayId") or r.get("TransitGatewayId") or r.get("NetworkInterfaceId") or ""
            if target.startswith("igw-"):
                note = (note + "; " if note else "") + f"default route to {target}: a Lambda ENI has no public IP"
            elif target and target != "local":
                return Path(subnet.id, service, "other", target, subnet.route_table,
                            note or "default route to a non-NAT target; not verified further")
    return Path(subnet.id, service, None, None, subnet.route_table, note or "no endpoint and no NAT route")


# --- Application Auto Scaling ---------------------------------------------------------------------------
def scalable_targets(facts: Facts, resource_ids: list[str]) -> dict[str, dict[str, Any]]:
    """ResourceId (``service/<cluster>/<service>``) -> its DesiredCount scalable target."""
    key = tuple(sorted(resource_ids))

    def fetch() -> dict[str, dict[str, Any]]:
        aas = facts.aws.client("application-autoscaling")
        resp = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=list(key),
                                             ScalableDimension=ECS_DIMENSION)
        return {t["ResourceId"]: dict(t) for t in resp.get("ScalableTargets", [])}

    return facts.memo(("scaler.targets", key), fetch)


def scaling_policies(facts: Facts, resource_id: str) -> list[dict[str, Any]]:
    def fetch() -> list[dict[str, Any]]:
        aas = facts.aws.client("application-autoscaling")
        resp = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource_id,
                                             ScalableDimension=ECS_DIMENSION)
        return [dict(p) for p in resp.get("ScalingPolicies", [])]

    return facts.memo(("scaler.policies", resource_id), fetch)


def scaling_activities(facts: Facts, resource_id: str, since: datetime) -> list[dict[str, Any]]:
    """The target's scaling activities that started after ``since`` (newest first, one page)."""

    def fetch() -> list[dict[str, Any]]:
        aas = facts.aws.client("application-autoscaling")
        resp = aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=resource_id,
                                               ScalableDimension=ECS_DIMENSION, MaxResults=50)
        out = [dict(a) for a in resp.get("ScalingActivities", []) if to_datetime(a.get("StartTime")) >= since]
        return sorted(out, key=lambda a: to_datetime(a.get("StartTime")), reverse=True)

    return facts.memo(("scaler.activities", resource_id, since.isoformat()), fetch)


def window(facts: Facts, minutes: int = 60) -> tuple[datetime, datetime]:
    """[now - minutes, now] of this run."""
    return facts.now - timedelta(minutes=minutes), facts.now
