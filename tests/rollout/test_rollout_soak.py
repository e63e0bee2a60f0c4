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


# --- the healthy-state definition: small flat backlogs, idle queues, failures need evidence -----------------
def samples(*states: dict) -> object:  # type: ignore[type-arg]
    """A sampler returning image's view with each state's attributes in turn (running 1/1 unless said)."""
    it = iter(states)

    def sample() -> dict[str, QueueView]:
        v = QueueView("image", "propertyfeedtemplate-image", (0, 2), desired=1, running=1, reserved=0, delayed=0)
        for k, val in next(it).items():
            setattr(v, k, val)
        return {"image": v}

    return sample


def soak(*states: dict):  # type: ignore[no-untyped-def, type-arg]
    c = Clock()
    r = watch(samples(*states), "c", 60, 60 * (len(states) - 1), 3, None, c.sleep, c.now)  # type: ignore[arg-type]
    return r, r.queues[0]


def test_small_flat_backlog_with_live_consumers_and_completions_is_healthy() -> None:
    r, q = soak(*({"ready": n, "head_job": f"job{i}", "consuming": True, "jobs_done": 40 + i}
                  for i, n in enumerate((4, 3, 4, 4))))
    assert r.healthy, q.notes
    assert q.notes["backlog trending down"] == ("small and flat: up to 4 job(s), within 5 per running task x 1, "
                                                "with live consumers and completions (the head job moved)")
    assert q.notes["jobs not failing in loops"].startswith("no failure evidence")


def test_small_flat_backlog_nobody_completes_is_not_healthy() -> None:
    r, q = soak(*({"ready": 4, "head_job": "job0"} for _ in range(3)))
    assert not r.healthy and q.notes["backlog trending down"] == "small (4 <= 5) but no completion seen in the window"


def test_flat_and_large_is_not_healthy_whatever_the_consumers_do() -> None:
    r, q = soak(*({"ready": 800, "head_job": f"job{i}", "consuming": True} for i in range(3)))
    assert not r.healthy
    assert q.notes["backlog trending down"] == "flat and large: 800 -> 800, above 5 (5 per running task)"


def test_idle_at_zero_is_steady_and_idle_with_a_backlog_is_the_finding() -> None:
    idle = {"desired": 0, "running": 0, "ready": 0, "reserved": 0, "signals": {"queue.failing_requeue"}}
    r, q = soak(idle, idle)
    assert r.healthy and q.state == "idle at 0 (in range)", q.notes
    assert q.notes["steady state reached"] == "idle at 0 (in range)"
    assert q.notes["jobs not failing in loops"] == "nothing ran (idle at 0)"
    waiting = {**idle, "ready": 800, "reserved": 12}
    r, q = soak(waiting, waiting)
    assert not r.healthy and q.state == "idle at 0 with a backlog of 812"
    assert q.verdicts["steady state reached"] and not q.verdicts["backlog trending down"]
    assert q.notes["backlog trending down"] == ("idle at 0 with a backlog of 812: nothing consumes it (wake it: "
                                                "ame-doctor gate --scale image=1)")


def test_jobs_failing_in_loops_needs_failure_evidence() -> None:
    quiet = [{"ready": 0, "failed_last_hour": 3, "max_attempts": 1}] * 2
    assert soak(*quiet)[1].verdicts["jobs not failing in loops"]
    r, q = soak({"ready": 0, "failed_last_hour": 3}, {"ready": 0, "failed_last_hour": 9})
    assert q.notes["jobs not failing in loops"] == "failed_jobs in the last hour rose 3 -> 9" and not r.healthy
    r, q = soak({"ready": 2, "max_attempts": 1}, {"ready": 2, "max_attempts": 3})
    assert q.notes["jobs not failing in loops"] == "attempts at the head rose 1 -> 3"
    r, q = soak({"ready": 0, "signals": {"queue.failing_requeue"}}, {"ready": 0})
    assert q.notes["jobs not failing in loops"] == "queue.failing_requeue"
