"""Soak arithmetic and verdicts on a scripted sampler (no servers)."""

from __future__ import annotations

from doctor.rollout.soak import watch
from doctor.rollout.views import QueueView


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def scripted(backlogs: list[int], **attrs):  # type: ignore[no-untyped-def]
    it = iter(backlogs)

    def sample() -> dict[str, QueueView]:
        n = next(it)
        v = QueueView("image", "propertyfeedtemplate-image", (0, 2), desired=1, running=1, ready=n, reserved=0, delayed=0)
        for k, val in attrs.items():
            setattr(v, k, val)
        return {"image": v}

    return sample


def test_draining_backlog_is_a_healthy_soak() -> None:
    c = Clock()
    lines: list[float] = []
    r = watch(scripted([120, 90, 60, 30]), "c", 60, 180, 3, lambda t, v, s: lines.append(t), c.sleep, c.now)
    q = r.queues[0]
    assert len(q.samples) == 4 and lines == [0, 60, 120, 180]
    assert q.drain_rate_per_min == 30.0 and q.time_to_empty_s == 60.0
    assert r.healthy and all(q.verdicts.values())


def test_growing_backlog_is_not_healthy() -> None:
    c = Clock()
    r = watch(scripted([10, 40, 80]), "c", 60, 120, 3, None, c.sleep, c.now)
    q = r.queues[0]
    assert q.drain_rate_per_min is not None and q.drain_rate_per_min < 0
    assert not q.verdicts["backlog trending down"] and not r.healthy


def test_new_connectivity_errors_and_restarts_fail_the_soak() -> None:
    c = Clock()
    calls = {"n": 0}
    base = scripted([5, 0, 0])

    def sample() -> dict[str, QueueView]:
        views = base()
        calls["n"] += 1
        if calls["n"] > 1:
            views["image"].signals = {"logs.db_timeout"}
            views["image"].stopped_in_window = 4
        return views

    r = watch(sample, "c", 10, 20, 3, None, c.sleep, c.now)
    q = r.queues[0]
    assert q.new_errors == ["logs.db_timeout"] and q.restarts == 4
    assert not q.verdicts["no fresh connectivity errors"] and not q.verdicts["no restart storm"]
    assert not r.healthy
