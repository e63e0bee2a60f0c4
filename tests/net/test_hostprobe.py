"""The host vantage's dead-endpoint memo (doctor.net.hostprobe.DeadEndpoints) on real loopback sockets: the
first timeout on host:port is the outcome of every later attempt in the run, without connecting again, and
reads exactly like the fresh one (it says it was a timeout and when it was measured)."""

from __future__ import annotations

import threading
from typing import Any

from doctor.net.hostprobe import DeadEndpoints, mysql_check, redis_check
from doctor.net.targets import DbTarget, RedisTarget

from support.netfaults import SilentServer


def _redis(port: int) -> RedisTarget:
    return RedisTarget("127.0.0.1", port, None, 0, "", False, "config")


def _db(port: int) -> DbTarget:
    return DbTarget("127.0.0.1", port, "ame", "ame", "pw", "config")


def test_a_silent_endpoint_is_waited_on_once_per_run() -> None:
    memo = DeadEndpoints()
    with SilentServer() as silent:
        fresh = redis_check(_redis(silent.port), timeout=0.5, dead=memo)
        assert fresh.outcome == "timeout" and fresh.info["timed_out"] == "answer"
        assert f"127.0.0.1:{silent.port} accepted the connection but did not answer within 0.5s" == fresh.detail
        assert fresh.info["measured_at"]
        assert silent.accepted == 1
        again = redis_check(_redis(silent.port), timeout=0.5, dead=memo)
        assert silent.accepted == 1  # remembered: not connected again
        assert (again.outcome, again.detail, again.evidence()) == (fresh.outcome, fresh.detail, fresh.evidence())
        # the same endpoint through another protocol is just as dead
        db = mysql_check(_db(silent.port), timeout=0.5, dead=memo)
        assert silent.accepted == 1
        assert (db.outcome, db.detail, db.info["measured_at"]) == ("timeout", fresh.detail, fresh.info["measured_at"])
        # without the run's memo every attempt connects and waits
        redis_check(_redis(silent.port), timeout=0.5)
        assert silent.accepted == 2


def test_a_timeout_is_remembered_per_vantage_and_endpoint(blackhole: Any) -> None:
    memo = DeadEndpoints()
    out = redis_check(_redis(blackhole.port), timeout=0.5, dead=memo)
    assert out.outcome == "timeout" and out.info["timed_out"] == "connect"
    assert out.detail == f"connect to 127.0.0.1:{blackhole.port} timed out after 0.5s"
    dead = memo.get("host", "127.0.0.1", blackhole.port)
    assert dead is not None and dead.phase == "connect"
    assert memo.get("task:propertyfeedtemplate-image", "127.0.0.1", blackhole.port) is None
    assert memo.get("host", "127.0.0.1", blackhole.port + 1) is None
    mysql = mysql_check(_db(blackhole.port), timeout=0.5, dead=memo)
    assert (mysql.outcome, mysql.detail, mysql.info["measured_at"]) == ("timeout", out.detail, out.info["measured_at"])


def test_concurrent_attempts_on_one_endpoint_take_turns() -> None:
    """Two checks reaching the same silent endpoint at once: the second waits for the first's outcome instead of
    starting its own wait."""
    memo = DeadEndpoints()
    with SilentServer() as silent:
        outcomes: list[Any] = []
        threads = [threading.Thread(target=lambda: outcomes.append(redis_check(_redis(silent.port), timeout=0.5,
                                                                              dead=memo))) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert silent.accepted == 1
        assert [o.outcome for o in outcomes] == ["timeout", "timeout"]
        assert outcomes[0].evidence() == outcomes[1].evidence()


def test_a_refused_or_answering_endpoint_is_not_remembered(refused_port: int, redis_server: Any) -> None:
    memo = DeadEndpoints()
    assert redis_check(_redis(refused_port), timeout=0.5, dead=memo).outcome == "refused"
    assert redis_check(_redis(redis_server.port), timeout=0.5, dead=memo).outcome == "ok"
    assert memo.get("host", "127.0.0.1", refused_port) is None
    assert memo.get("host", "127.0.0.1", redis_server.port) is None
