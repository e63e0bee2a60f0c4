"""The table: every demo fault scenario records the change that caused it as CloudTrail would, and the real run's
timeline links that change to the scenario's root cause; the healthy and the resolved-history worlds link
nothing. One simulated production per scenario (moto, the CloudTrail stand-in, the shared Redis and MariaDB), the
session's ``scenario_runs``: the same runs the root-cause table reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from doctor.sim.scenarios import SCENARIOS
from doctor.sim.world import World

pytestmark = pytest.mark.xdist_group("scenario_runs")  # one worker builds the scenario worlds once

IMAGE, BULK = "service:propertyfeedtemplate-image", "service:propertyfeedtemplate-bulk"
OLD_CLUSTER = "db-cluster:ame-aurora-old"
# scenario -> (CloudTrail event name, the resource token it must name) of the change that caused the fault
CAUSED_BY: dict[str, Callable[[World], tuple[str, str]] | None] = {
    "healthy": None,
    "resolved-history": None,
    "bad-db-host": lambda w: ("DeleteDBCluster", OLD_CLUSTER),
    "stale-db-host": lambda w: ("DeleteDBCluster", OLD_CLUSTER),
    "db-host-reader": lambda w: ("PutParameter", f"param:{w.param('DB_HOST')}"),
    "missing-aurora-ingress": lambda w: ("RevokeSecurityGroupIngress", f"sg:{w.aurora_sg}"),
    "missing-redis-ingress": lambda w: ("RevokeSecurityGroupIngress", f"sg:{w.redis_sg}"),
    "stale-ssm-values": lambda w: ("PutParameter", f"param:{w.param('DB_PASSWORD')}"),
    "bad-container-image": lambda w: ("UpdateService", IMAGE),
    "missing-runtime-dirs": lambda w: ("UpdateService", IMAGE),
    "bad-bootstrap": lambda w: ("DeleteRolePolicy", "role:ame-ecs-execution"),
    "workers-not-consuming": lambda w: ("UpdateService", BULK),
    "jobs-failing-and-requeueing": lambda w: ("UpdateService", IMAGE),
    "long-jobs-outlive-retry-after": lambda w: ("UpdateService", IMAGE),
    "wrong-redis": lambda w: ("PutParameter", f"param:{w.param('REDIS_PREFIX')}"),
    "db-path-blocked": lambda w: ("CreateNetworkAclEntry", "nacl:"),
    "redis-path-unhealthy": lambda w: ("TestFailover", f"cache:{w.redis_group}"),
    "sentry-burst": lambda w: ("TestFailover", f"cache:{w.redis_group}"),
    "scaler-not-waking": lambda w: ("PutRolePolicy", "role:ame-queue-scaler"),
}


def test_the_table_covers_every_scenario() -> None:
    assert set(SCENARIOS) <= set(CAUSED_BY), "a new scenario: name the change that causes it"
    assert all((s.cause is None) == (CAUSED_BY[n] is None) for n, s in SCENARIOS.items())


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_root_cause_is_linked_to_the_change_that_caused_it(name: str, scenario_runs: Any) -> None:
    scenario = SCENARIOS[name]
    run = scenario_runs(name)  # built and diagnosed once per session, with the timeline (support.demo)
    world, report = run.world, run.report
    tl = report.timeline
    assert {s.name: s.status.value for s in tl.sources if s.name in ("cloudtrail", "ecs", "logs")} == {
        "cloudtrail": "ok", "ecs": "ok", "logs": "ok"}, tl.sources
    expected = CAUSED_BY[name]
    if expected is None:
        assert tl.links == [], [link.text for link in tl.links]
        return
    event_name, resource = expected(world)
    ours = [link for link in tl.links if (link.playbook, link.cause) == (scenario.playbook, scenario.cause)]
    changes = [tl.event(link.change) for link in ours]
    hits = [c for c in changes if c is not None and c.detail.get("event") == event_name
            and any(r.startswith(resource) for r in c.resources)]
    assert hits, f"{scenario.cause}: links {[link.text for link in ours]}; changes {[e.title for e in tl.events]}"
    change = hits[0]
    assert change.actor and change.finding in next(rc.evidence for rc in report.diagnosis.root_causes
                                                   if rc.cause == scenario.cause)
    link = next(link for link in ours if link.change == change.id)
    assert link.gap_s is not None and link.gap_s >= 0 and " before " in link.text
