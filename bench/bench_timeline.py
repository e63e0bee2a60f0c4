"""Timeline benchmark: 10,000 CloudTrail events in the window, processed into the report's timeline (parse each
LookupEvents entry and its CloudTrailEvent JSON, redact the request parameters, merge, correlate with a
diagnosis of three root causes, pass the redactor) — target under a second; and, for reference, the same
events read end to end through the LookupEvents stand-in (HTTP, 50 per page, as botocore pages them).

    python bench/bench_timeline.py                  # 10,000 events, 5 rounds
    python bench/bench_timeline.py --events 50000 --rounds 3 --no-fetch

Numbers, not assertions: tests never time things; this script is where timing lives.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doctor.aws import AwsSession  # noqa: E402
from doctor.config import Config  # noqa: E402
from doctor.model import (  # noqa: E402
    CauseState,
    CheckResult,
    CheckStatus,
    Diagnosis,
    Finding,
    Report,
    RootCause,
    RunInfo,
    Scope,
    Severity,
    Target,
    ToolInfo,
)
from doctor.redact import Redactor  # noqa: E402
from doctor.sim.cloudtrail import CloudTrailStandIn, event  # noqa: E402
from doctor.timeline.assemble import assemble  # noqa: E402
from doctor.timeline.catalogue import CATALOGUE  # noqa: E402
from doctor.timeline.cloudtrail import SecretKeys, parse, read  # noqa: E402
from doctor.timeline.collect import Collected  # noqa: E402
from doctor.timeline.sources import SourceRead, Window, _when_text  # noqa: E402

SERVICES = [f"propertyfeedtemplate-{q}" for q in ("sync", "image", "bulk")]
PATH = "/propertyfeedtemplate/production/"
SGS = [f"sg-{i:017x}" for i in range(40)]
REDIS_SG = SGS[0]


def requests(rng: random.Random, name: str) -> dict[str, Any]:
    """A plausible request for ``name`` touching one of many resources (most outside any root cause)."""
    sg = rng.choice(SGS)
    service = rng.choice(SERVICES + [f"other-{i}" for i in range(20)])
    return {
        "PutParameter": {"name": f"{PATH}KEY_{rng.randrange(200)}", "type": "String", "overwrite": True,
                         "value": "never-shown"},
        "AuthorizeSecurityGroupIngress": {"groupId": sg, "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 6379, "toPort": 6379, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/24"}]}}]}},
        "RevokeSecurityGroupIngress": {"groupId": sg, "securityGroupRuleIds": {"items": [{"securityGroupRuleId": "sgr-1"}]}},
        "UpdateService": {"cluster": "propertyfeedtemplate-production", "service": service, "desiredCount": 1},
        "RegisterTaskDefinition": {"family": service, "containerDefinitions": [
            {"name": "app", "image": "repo:tag", "environment": [{"name": "DB_PASSWORD", "value": "pw"}]}]},
    }.get(name, {"name": f"res-{rng.randrange(50)}", "dBClusterIdentifier": "ame-aurora",
                 "replicationGroupId": "ame-redis", "roleName": "some-role", "networkAclId": "acl-0123456789abcdef0"})


def raw_events(n: int, now: datetime, seed: int = 7) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    names = [k for k in CATALOGUE]
    out = []
    for _ in range(n):
        kind = rng.choice(names)
        at = now - timedelta(seconds=rng.uniform(60, 23 * 3600))
        region = kind.region or "eu-west-1"
        out.append((region, event(kind.name, kind.source, at, requests(rng, kind.name), region=region)))
    return out


def report(now: datetime) -> Report:
    def finding(uid: str, **kw: Any) -> Finding:
        return Finding(uid=uid, severity=Severity.error, title=uid, **kw)

    sg = finding("sg.ingress:redis_no_rule:x", resources=[REDIS_SG, SERVICES[1]],
                 evidence={"kind": "redis", "data_security_groups": [REDIS_SG]}, signals=["sg.redis_ingress_missing"])
    stale = finding("ssm.values:newer_than_tasks:bulk", resources=[SERVICES[2], f"{PATH}KEY_7"],
                    signals=["ssm.newer_than_tasks"])
    queue = finding("queue.state:no_consumer:image", resources=[SERVICES[1]], evidence={"service": SERVICES[1]},
                    signals=["queue.no_consumer"])
    checks = [CheckResult(id=c, title=c, order=i, status=CheckStatus.fail, findings=[f])
              for i, (c, f) in enumerate((("sg.ingress", sg), ("ssm.values", stale), ("queue.state", queue)), 1)]
    causes = [RootCause(playbook="p", cause=c, state=CauseState.confirmed, score=0.9, evidence=[f.uid],
                        scope=Scope(services=[s])) for c, f, s in (("missing-redis-ingress", sg, SERVICES[1]),
                                                                  ("stale-ssm-values", stale, SERVICES[2]),
                                                                  ("workers-not-consuming", queue, SERVICES[1]))]
    return Report(tool=ToolInfo(version="bench"), run=RunInfo(id="bench", started_at=now.isoformat()),
                  target=Target(cluster="propertyfeedtemplate-production"), checks=checks,
                  diagnosis=Diagnosis(root_causes=causes))


def process(raws: list[tuple[str, dict[str, Any]]], rep: Report, window: Window) -> Any:
    """What the run does with the events once read: parse, then assemble onto the report."""
    _when_text.cache_clear()  # every round reads its times afresh
    redactor = Redactor()
    redactor.add_secret("s3cret-db-password")
    keys = SecretKeys(redactor)
    events = [e for _, raw in raws if (e := parse(raw, keys)) is not None]
    return assemble(rep, Collected(window, [SourceRead("cloudtrail", events)]), Config(), redactor)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-fetch", action="store_true", help="skip the end-to-end read through the stand-in")
    args = ap.parse_args()
    now = datetime.now(UTC)
    window = Window(since=now - timedelta(hours=24), until=now)
    raws = raw_events(args.events, now)
    rep = report(now)
    wall, cpu = [], []
    for _ in range(args.rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        tl = process(raws, rep, window)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(f"process {args.events} CloudTrail events -> timeline: wall median {statistics.median(wall):.3f} s "
          f"(best {min(wall):.3f}), CPU median {statistics.median(cpu):.3f} s (best {min(cpu):.3f}) over {args.rounds} "
          f"rounds; {len(tl.events)} events, {len(tl.links)} links, {len(tl.unmatched_changes)} unmatched; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.no_fetch:
        return
    trail = CloudTrailStandIn().start()
    try:
        for region, raw in raws:
            trail.add(raw, region)
        os.environ["AWS_ENDPOINT_URL_CLOUDTRAIL"] = trail.url
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        out = SourceRead("cloudtrail")
        start = time.perf_counter()
        read(out, AwsSession("eu-west-1"), window, max_pages=1000, redactor=Redactor())
        took = time.perf_counter() - start
        print(f"read the same {len(out.events)} events through the stand-in: {took:.2f} s, {len(trail.calls)} "
              f"LookupEvents calls ({out.status.value})")
    finally:
        trail.stop()


if __name__ == "__main__":
    main()
