"""reach.redis end to end: real redis-server, local transport; the sim world (moto + test DNS) where the
path through SSM and the task definitions matters, an empty moto account with explicit targets elsewhere."""

from __future__ import annotations

from doctor.config import Config
from doctor.model import CheckStatus
from doctor.sim.world import WorldSpec, build_world

from support.probe import by_vantage, laravel_root, path_without_php, run_checks, world_config

SERVICES = ["propertyfeedtemplate-sync", "propertyfeedtemplate-image", "propertyfeedtemplate-bulk"]
VANTAGES = {f"task:{s}" for s in SERVICES} | {"host"}


def _signals(check):
    return {v: f.signals for v, f in by_vantage(check).items()}


def _direct(tmp_path, host: str, port: int, password: str | None = None, root=None, **kw) -> Config:
    """No world: the target comes from [redis]; the 'task' environment is filled from it (local transport)."""
    return Config(aws={"region": "eu-west-1"}, redis={"host": host, "port": port, "password": password},
                  exec={"transport": "local", "timeout": 6, "app_root": str(root or laravel_root(tmp_path)), **kw})


def test_healthy_redis_is_ok_from_every_task_and_the_host(moto_session, redis_server, dns_server, tmp_path,
                                                           monkeypatch) -> None:
    w = build_world(moto_session, WorldSpec(redis_port=redis_server.port))
    cfg = world_config(w, dns_server, laravel_root(tmp_path))
    for runtime in ("php", "bash"):  # the same world under php-cli, then with PATH stripped of php
        if runtime == "bash":
            monkeypatch.setenv("PATH", path_without_php())
        c = run_checks(cfg, ["reach.redis"]).check("reach.redis")
        assert c.status == CheckStatus.passed, c
        assert _signals(c) == {v: ["reach.redis_ok"] for v in VANTAGES}
        f = by_vantage(c)["task:propertyfeedtemplate-sync"]
        assert f.evidence["runtime"] == runtime
        assert f.evidence["addresses"] == ["127.0.0.1"] and f.evidence["transport"] == "local"
        assert f.evidence["effective_prefix"] == "propertyfeedtemplate_database_" and f.evidence["effective_db"] == 0
        if runtime == "php":  # fingerprints need php's openssl for the key exchange
            assert f.evidence["redis_host_matches_ssm"] is True
        else:
            assert "redis_host_matches_ssm" not in f.evidence and "no php" in f.evidence["fingerprints"]
        assert by_vantage(c)["host"].evidence["role"] == "master"
        assert "maxmemory_policy" in by_vantage(c)["host"].evidence
    # the doctor host outside the VPC: the tasks connect, the host cannot -> only a warning
    cfg.redis.host = "no-such-host.ame-doctor.invalid"
    c = run_checks(cfg, ["reach.redis"]).check("reach.redis")
    host = by_vantage(c)["host"]
    assert host.signals == ["reach.redis_dns_failed"] and host.severity.value == "warning"
    assert c.status == CheckStatus.warn


def test_auth_ok_wrong_password_and_missing_password(moto_session, redis_server_auth, dns_server, tmp_path) -> None:
    w = build_world(moto_session, WorldSpec(redis_port=redis_server_auth.port,
                                            redis_password=redis_server_auth.password))
    cfg = world_config(w, dns_server, laravel_root(tmp_path))
    c = run_checks(cfg, ["reach.redis"]).check("reach.redis")
    assert c.status == CheckStatus.passed and _signals(c) == {v: ["reach.redis_ok"] for v in VANTAGES}
    assert by_vantage(c)["host"].evidence["auth"] == "ok"

    ssm = moto_session.client("ssm")
    ssm.put_parameter(Name=w.param("REDIS_PASSWORD"), Value="wrong-password-123", Type="SecureString", Overwrite=True)
    c = run_checks(cfg, ["reach.redis"]).check("reach.redis")
    assert c.status == CheckStatus.fail
    assert _signals(c) == {v: ["reach.redis_auth_failed"] for v in VANTAGES}
    assert "WRONGPASS" in by_vantage(c)["task:propertyfeedtemplate-sync"].detail
    assert "wrong-password-123" not in c.model_dump_json()

    ssm.delete_parameter(Name=w.param("REDIS_PASSWORD"))
    c = run_checks(cfg, ["reach.redis"]).check("reach.redis")
    assert _signals(c) == {v: ["reach.redis_auth_failed"] for v in VANTAGES}
    assert "NOAUTH" in by_vantage(c)["host"].detail


def test_refused(moto_session, refused_port, tmp_path) -> None:
    c = run_checks(_direct(tmp_path, "127.0.0.1", refused_port), ["reach.redis"]).check("reach.redis")
    assert c.status == CheckStatus.fail
    assert _signals(c) == {v: ["reach.redis_refused"] for v in VANTAGES}


def test_unresolvable_host(moto_session, unresolvable_name, tmp_path) -> None:
    c = run_checks(_direct(tmp_path, unresolvable_name, 6379), ["reach.redis"]).check("reach.redis")
    assert _signals(c) == {v: ["reach.redis_dns_failed"] for v in VANTAGES}
    assert by_vantage(c)["host"].evidence["dns"] == "nxdomain"


def test_every_target_black_holed_stays_within_the_deadline(moto_session, blackhole, tmp_path) -> None:
    """Redis and Aurora both black-hole: both checks end with timeout findings, not a check timeout."""
    cfg = _direct(tmp_path, "127.0.0.1", blackhole.port)
    cfg.database.host, cfg.database.port, cfg.database.username = "127.0.0.1", blackhole.port, "ame"
    cfg.run.check_timeout = 20
    report = run_checks(cfg, ["reach.redis", "reach.aurora"])
    r, a = report.check("reach.redis"), report.check("reach.aurora")
    assert r.status == CheckStatus.fail and a.status == CheckStatus.fail, (r.summary, a.summary)
    assert _signals(r) == {v: ["reach.redis_timeout"] for v in VANTAGES}
    assert _signals(a) == {v: ["reach.aurora_timeout"] for v in VANTAGES}


def test_runtime_dirs_missing_in_the_task(moto_session, redis_server, tmp_path) -> None:
    root = laravel_root(tmp_path, dirs=("storage/logs",))
    c = run_checks(_direct(tmp_path, "127.0.0.1", redis_server.port, root=root), ["reach.redis"]).check("reach.redis")
    dirs = [f for f in c.findings if f.uid.startswith("reach.redis:runtime_dir_unwritable:")]
    assert len(dirs) == 3 and c.status == CheckStatus.fail
    assert dirs[0].signals == ["probe.runtime_dir_unwritable"]
    assert dirs[0].evidence["dirs"]["bootstrap/cache"] == "missing"


def test_exec_off_is_unknown_for_tasks_but_still_probes_the_host(moto_session, redis_server, tmp_path) -> None:
    cfg = _direct(tmp_path, "127.0.0.1", redis_server.port, transport="off")
    c = run_checks(cfg, ["reach.redis"]).check("reach.redis")
    assert c.status == CheckStatus.unknown
    assert by_vantage(c)["host"].signals == ["reach.redis_ok"]
    off = [f for f in c.findings if ":exec_unavailable:" in f.uid]
    assert len(off) == 3 and all(f.signals == ["exec.unavailable"] and f.severity.value == "info" for f in off)
    assert c.unlock and "--exec" in c.unlock


def test_eviction_policy_that_drops_queue_keys_is_a_warning(moto_session, redis_server, tmp_path) -> None:
    client = redis_server.client()
    client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        c = run_checks(_direct(tmp_path, "127.0.0.1", redis_server.port), ["reach.redis"]).check("reach.redis")
    finally:
        client.config_set("maxmemory-policy", "noeviction")
    ev = [f for f in c.findings if ":eviction:" in f.uid]
    assert len(ev) == 1 and ev[0].signals == ["reach.redis_evicting"] and ev[0].severity.value == "warning"
    assert c.status == CheckStatus.warn
