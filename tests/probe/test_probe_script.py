"""The in-task probe (probe.sh + probe.php) against real servers, under php-cli and under plain sh."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from doctor.probe import (
    EXIT_SENTINEL,
    MAX_COMMAND_CHARS,
    ProbeResult,
    ProbeSpec,
    parse_output,
)

from support.netfaults import SilentServer
from support.probe import laravel_root, path_without_php, php_with, run_probe


@pytest.fixture(params=["php", "sh"])
def runtime(request, tmp_path):
    """Run each probe test under php-cli and under plain sh (PATH stripped of php: bash /dev/tcp)."""
    if request.param == "php":
        if not shutil.which("php"):
            pytest.skip("php-cli not installed")
        return None
    return path_without_php(tmp_path)


def _spec(tmp_path, **kw):
    return ProbeSpec(timeout=1, app_root=str(laravel_root(tmp_path)), run_as="self", **kw)


def expected_rt(runtime):
    return "php" if runtime is None else "bash"


def test_command_fits_the_api_limits_and_needs_no_quoting() -> None:
    spec = ProbeSpec(timeout=3, app_root="/var/www/html", root_source="workdir", run_as="www-data:www-data",
                     queues=["propertyfeedtemplate-sync", "propertyfeedtemplate-image", "default"],
                     resolve={"master.redis.example": "10.0.0.5", "db.example": "10.0.1.9"})
    cmd = spec.exec_command()
    assert cmd.startswith('sh -c "') and cmd.endswith('"')
    assert len(cmd) <= MAX_COMMAND_CHARS
    overrides = {"containerOverrides": [{"name": "app", "command": spec.task_command()}]}
    assert len(json.dumps(overrides, separators=(",", ":"))) <= 8192
    inner = cmd[len('sh -c "'):-1]
    assert not set(inner) & set("\"'\\`$")
    assert EXIT_SENTINEL in inner


def test_unsafe_probe_input_is_refused() -> None:
    with pytest.raises(ValueError):
        ProbeSpec(app_root="/var/www/$(reboot)").shell_script()


def test_parse_output_tolerates_pty_and_log_prefixes() -> None:
    text = ("\r\nStarting session with SessionId: abc\r\n"
            'AMEPROBE {"t":"start","rt":"php"}\r\n'
            '2024-01-01T00:00:00 AMEPROBE {"t":"redis","tcp":"ok","reply":"PONG"}\r\n'
            "AMEPROBE {broken\r\n"
            'AMEPROBE {"t":"end","rt":"php"}\r\n' + EXIT_SENTINEL + " 0\r\nExiting session")
    r = parse_output(text, ProbeResult(service="s", transport="t"))
    assert r.ok and r.exit_status == 0 and r.runtime == "php"
    assert r.redis == {"t": "redis", "tcp": "ok", "reply": "PONG"}
    r2 = parse_output("Starting session\r\n", ProbeResult(service="s", transport="t"))
    assert not r2.ok and r2.reason.startswith("the probe produced no output")


def test_redis_pong_and_mysql_greeting(runtime, tmp_path, redis_server, mariadb) -> None:
    r = run_probe(_spec(tmp_path), {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port),
                                    "DB_HOST": "127.0.0.1", "DB_PORT": str(mariadb.port)}, path=runtime)
    assert r.ok, r.raw_output  # type: ignore[attr-defined]
    assert r.exit_status == 0
    assert r.runtime == expected_rt(runtime)
    assert r.redis["tcp"] == "ok" and r.redis["reply"] == "PONG" and r.redis["role"] == "master"
    assert r.redis["auth"] == "none"
    assert r.mysql["tcp"] == "ok" and r.mysql["greeting"] == "ok"
    assert r.mysql["protocol"] == 10 and "MariaDB" in r.mysql["version"]
    assert r.dirs["dirs"] == {d: "ok" for d in r.dirs["dirs"]} and len(r.dirs["dirs"]) == 5


def test_redis_auth_outcomes(runtime, tmp_path, redis_server_auth) -> None:
    base = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server_auth.port)}
    good = run_probe(_spec(tmp_path), {**base, "REDIS_PASSWORD": redis_server_auth.password}, path=runtime)
    assert good.redis["auth"] == "ok" and good.redis["reply"] == "PONG", good.raw_output  # type: ignore[attr-defined]
    wrong = run_probe(_spec(tmp_path), {**base, "REDIS_PASSWORD": "not-the-password"}, path=runtime)
    assert wrong.redis["auth"] == "failed" and wrong.redis["reply"] == "WRONGPASS"
    none = run_probe(_spec(tmp_path), base, path=runtime)
    assert none.redis["reply"] == "NOAUTH"
    for r in (good, wrong, none):
        assert redis_server_auth.password not in r.raw_output  # type: ignore[attr-defined]


def test_refused_blackhole_and_unresolvable(runtime, tmp_path, refused_port, blackhole, unresolvable_name) -> None:
    r = run_probe(_spec(tmp_path), {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(refused_port),
                                    "DB_HOST": "127.0.0.1", "DB_PORT": str(blackhole.port)}, path=runtime)
    assert r.ok and r.redis["tcp"] == "refused" and r.mysql["tcp"] == "timeout"
    r = run_probe(_spec(tmp_path), {"REDIS_HOST": unresolvable_name, "DB_HOST": ""}, path=runtime)
    assert r.redis["tcp"] == "dns" and r.redis["addrs"] == []
    assert r.mysql["tcp"] == "unset"


def test_redis_and_mysql_are_probed_at_once(runtime, tmp_path) -> None:
    """Both paths silent (connect, never answer): the MySQL connection is opened while the Redis one still
    waits — one timeout for the two, not one after the other."""
    with SilentServer() as redis_side, SilentServer() as mysql_side:
        r = run_probe(_spec(tmp_path), {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_side.port),
                                        "DB_HOST": "127.0.0.1", "DB_PORT": str(mysql_side.port)}, path=runtime)
        [(redis_open, redis_gone)], [(mysql_open, mysql_gone)] = redis_side.spans(), mysql_side.spans()
    assert r.ok and r.redis["tcp"] == "ok" and r.redis["reply"] == "TIMEOUT"
    assert r.mysql["tcp"] == "ok" and r.mysql["greeting"] == "none"
    assert redis_gone is not None and mysql_gone is not None
    assert mysql_open < redis_gone and redis_open < mysql_gone  # the two waits overlap


def test_resolve_overrides_like_curl_resolve(runtime, tmp_path, redis_server) -> None:
    spec = _spec(tmp_path, resolve={"redis.sim.internal": "127.0.0.1"})
    r = run_probe(spec, {"REDIS_HOST": "redis.sim.internal", "REDIS_PORT": str(redis_server.port)}, path=runtime)
    assert r.redis["addrs"] == ["127.0.0.1"] and r.redis["reply"] == "PONG"


def test_runtime_dirs_missing(runtime, tmp_path) -> None:
    root = laravel_root(tmp_path, dirs=("storage/logs",))
    r = run_probe(ProbeSpec(timeout=1, app_root=str(root), run_as="self"), {}, path=runtime)
    assert r.dirs["root"] == str(root)
    assert r.dirs["dirs"]["storage/logs"] == "ok"
    assert r.dirs["dirs"]["bootstrap/cache"] == "missing"
    assert r.dirs["dirs"]["storage/framework/cache"] == "missing"


def test_fingerprints_are_made_with_the_agreed_key_and_never_leak(tmp_path) -> None:
    if not shutil.which("php"):
        pytest.skip("php-cli not installed")
    values = {"DB_HOST": "db.example.internal", "REDIS_HOST": "redis.example.internal",
              "APP_KEY": "base64:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "DB_PASSWORD": "p@ss w0rd$!"}
    r = run_probe(_spec(tmp_path), {**values, "APP_NAME": "Property Feed-Template", "REDIS_DB": "3"})
    assert r.fingerprint_key is not None and r.fingerprint_note is None
    assert r.env["fp"] == {k: r.fingerprint(v) for k, v in values.items()}
    assert all(len(fp) == len("hmac:") + 32 for fp in r.env["fp"].values())  # 128 bits
    assert all(r.matches(k, v) for k, v in values.items())
    assert r.matches("DB_PASSWORD", "p@ss w0rd$?") is False
    out = r.raw_output  # type: ignore[attr-defined]
    assert values["DB_PASSWORD"] not in out and "MDEyMzQ1" not in out
    assert r.env["redis_prefix"] == "property_feed_template_database_"
    assert r.env["redis_db"] == 3 and r.env["source"] == "env"


def test_the_same_value_fingerprints_differently_in_every_probe_run(tmp_path) -> None:
    if not shutil.which("php"):
        pytest.skip("php-cli not installed")
    env = {"DB_PASSWORD": "same-password"}
    a, b = run_probe(_spec(tmp_path), env), run_probe(_spec(tmp_path), env)
    assert a.env["fp"]["DB_PASSWORD"] != b.env["fp"]["DB_PASSWORD"]
    assert a.matches("DB_PASSWORD", "same-password") and b.matches("DB_PASSWORD", "same-password")


def test_without_php_there_are_no_fingerprints_and_the_probe_says_so(tmp_path) -> None:
    r = run_probe(_spec(tmp_path), {"DB_PASSWORD": "pw", "DB_HOST": "db"}, path=path_without_php(tmp_path))
    assert r.ok and r.runtime == "bash"
    assert r.env["fp"] == {"DB_HOST": None, "REDIS_HOST": None, "APP_KEY": None, "DB_PASSWORD": None}
    assert "no php" in r.env["fp_note"] and r.fingerprint_key is None
    assert r.matches("DB_PASSWORD", "pw") is None


def test_unset_values_have_no_fingerprint(runtime, tmp_path) -> None:
    r = run_probe(_spec(tmp_path), {"REDIS_PREFIX": "custom:"}, path=runtime)
    assert r.env["fp"] == {"DB_HOST": None, "REDIS_HOST": None, "APP_KEY": None, "DB_PASSWORD": None}
    assert r.env["redis_prefix"] == "custom:"


def test_cached_config_wins_over_env_under_php(tmp_path, redis_server) -> None:
    if not shutil.which("php"):
        pytest.skip("php-cli not installed")
    root = laravel_root(tmp_path)
    (root / "bootstrap/cache/config.php").write_text(
        "<?php return array('app' => array('key' => 'base64:cached'), 'database' => array('default' => 'mysql', "
        "'connections' => array('mysql' => array('host' => 'cached-db', 'password' => 'pw')), 'redis' => array("
        "'options' => array('prefix' => 'cached_prefix_'), 'default' => array('host' => '127.0.0.1', "
        f"'port' => {redis_server.port}, 'database' => '5'))));")
    r = run_probe(ProbeSpec(timeout=1, app_root=str(root), run_as="self"),
                  {"REDIS_PREFIX": "env_prefix_", "DB_HOST": "env-db", "REDIS_HOST": "env-redis"})
    assert r.env["source"] == "config_cache" and r.env["config_cache"] is True
    assert r.env["redis_prefix"] == "cached_prefix_" and r.env["redis_db"] == 5
    assert r.matches("DB_HOST", "cached-db") and r.matches("REDIS_HOST", "127.0.0.1")
    # Laravel connects with the cached config, so the probe does too
    assert r.redis["host"] == "127.0.0.1" and r.redis["reply"] == "PONG" and r.mysql["host"] == "cached-db"


def test_without_bash_or_php_falls_back_to_nc(tmp_path, redis_server, refused_port) -> None:
    if not shutil.which("nc"):
        pytest.skip("nc not installed")
    path = path_without_php(tmp_path, drop=("php", "bash"))
    r = run_probe(_spec(tmp_path), {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port),
                                    "DB_HOST": "127.0.0.1", "DB_PORT": str(refused_port)}, path=path)
    assert r.ok and r.runtime == "nc", r.raw_output  # type: ignore[attr-defined]
    assert r.redis["tcp"] == "ok" and r.redis["reply"] == "PONG"
    assert r.mysql["tcp"] != "ok"


def test_probe_script_is_posix_sh() -> None:
    from doctor.probe import script_text

    sh = script_text("probe.sh")
    assert sh.startswith("#!/bin/sh")
    assert not re.search(r"\[\[|\bfunction\b|\$\{[A-Z_]+//", sh.split('<<"EOS"')[0])
    if shutil.which("dash"):
        import subprocess

        assert subprocess.run(["dash", "-n", "-c", sh]).returncode == 0


@pytest.mark.parametrize("drop", [("php",), ("php", "bash")], ids=["bash", "nc"])
def test_shell_fallback_speaks_resp_arrays_to_a_server_that_accepts_nothing_else(drop, tmp_path) -> None:
    """fakeredis's TCP server (the demo's Redis without redis-server) answers inline commands with -ERR."""
    if "bash" in drop and not shutil.which("nc"):
        pytest.skip("nc not installed")
    from doctor.sim.fakeredis_tcp import FakeRedisTcp

    server = FakeRedisTcp().start()
    try:
        r = run_probe(_spec(tmp_path), {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(server.port)},
                      path=path_without_php(tmp_path, drop=drop))
    finally:
        server.stop()
    assert r.runtime == ("bash" if drop == ("php",) else "nc"), r.raw_output  # type: ignore[attr-defined]
    assert r.redis["tcp"] == "ok" and r.redis["reply"] == "PONG" and r.redis["role"] == "master"


def test_shell_fallback_authenticates_with_a_resp_array(tmp_path, redis_server_auth) -> None:
    base = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server_auth.port)}
    for drop in (("php",), ("php", "bash")):
        path = path_without_php(tmp_path, drop=drop)
        good = run_probe(_spec(tmp_path), {**base, "REDIS_PASSWORD": redis_server_auth.password}, path=path)
        assert good.redis["auth"] == "ok" and good.redis["reply"] == "PONG", good.raw_output  # type: ignore[attr-defined]
        acl = run_probe(_spec(tmp_path), {**base, "REDIS_USERNAME": "default",
                                          "REDIS_PASSWORD": redis_server_auth.password}, path=path)
        assert acl.redis["auth"] == "ok" and acl.redis["reply"] == "PONG"


def _db_env(db, **kw: str) -> dict[str, str]:
    return {"DB_HOST": "127.0.0.1", "DB_PORT": str(db.port), "DB_DATABASE": db.database, "DB_USERNAME": db.user,
            "DB_PASSWORD": db.password, **kw}


def test_php_logs_in_as_the_worker_and_tells_a_reader_from_the_writer(tmp_path, mariadb, mariadb_reader) -> None:
    if not shutil.which("php"):
        pytest.skip("php-cli not installed")
    writer = run_probe(_spec(tmp_path), _db_env(mariadb)).mysql
    assert writer["greeting"] == "ok" and writer["login"] == "ok" and writer["driver"] == "pdo_mysql"
    assert writer["innodb_read_only"] == 0 and writer["read_only"] == 0
    reader = run_probe(_spec(tmp_path), _db_env(mariadb_reader)).mysql
    assert reader["login"] == "ok" and reader["innodb_read_only"] == 1 and reader["read_only"] == 1
    denied = run_probe(_spec(tmp_path), _db_env(mariadb, DB_PASSWORD="not-the-password"))
    assert denied.mysql["login"] == "failed" and denied.mysql["login_code"] == 1045
    assert "not-the-password" not in denied.raw_output  # type: ignore[attr-defined]
    nobody = run_probe(_spec(tmp_path), _db_env(mariadb, DB_USERNAME="")).mysql
    assert nobody["greeting"] == "ok" and nobody["login"] == "skipped"


def test_php_without_pdo_mysql_uses_mysqli_and_without_either_says_so(tmp_path, mariadb_reader) -> None:
    if not shutil.which("php"):
        pytest.skip("php-cli not installed")
    mysqli = run_probe(_spec(tmp_path), _db_env(mariadb_reader),
                       path=php_with(tmp_path, "-n", "-d", "extension=mysqlnd", "-d", "extension=mysqli")).mysql
    assert mysqli["driver"] == "mysqli" and mysqli["login"] == "ok" and mysqli["innodb_read_only"] == 1
    bare = run_probe(_spec(tmp_path), _db_env(mariadb_reader), path=php_with(tmp_path, "-n"))
    assert bare.runtime == "php" and bare.mysql["greeting"] == "ok"
    assert bare.mysql["login"] == "no_driver" and "innodb_read_only" not in bare.mysql
    assert bare.fingerprint_key is not None  # openssl is built in: fingerprints still work


def test_shell_fallback_reports_the_greeting_and_that_it_cannot_log_in(tmp_path, mariadb_reader) -> None:
    r = run_probe(_spec(tmp_path), _db_env(mariadb_reader), path=path_without_php(tmp_path))
    assert r.runtime == "bash" and r.mysql["greeting"] == "ok" and r.mysql["login"] == "no_php"


def test_remote_command_without_php_says_the_network_probe_was_left_out(tmp_path, redis_server) -> None:
    """The full probe does not fit the ECS command budget: the remote command carries the short form, whose
    php-less branch says so instead of guessing (the runtime directories are still judged)."""
    import subprocess

    spec = _spec(tmp_path)
    assert spec.remote_script() == spec.shell_script("short") != spec.shell_script()
    env = {"PATH": path_without_php(tmp_path), "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port)}
    out = subprocess.run(["sh", "-c", spec.remote_script()], env=env, capture_output=True, text=True, timeout=60)
    r = parse_output(out.stdout, ProbeResult(service="s", transport="t"), spec.exchange)
    assert r.ok and r.runtime == "none" and r.dirs["dirs"]["storage/logs"] == "ok"
    assert r.redis["tcp"] == "untested" and "no php in the container" in r.redis["error"]
    with_php = parse_output(subprocess.run(["sh", "-c", spec.remote_script()], env={**env, "PATH": "/usr/bin:/bin"},
                                           capture_output=True, text=True, timeout=60).stdout,
                            ProbeResult(service="s", transport="t"), spec.exchange)
    if shutil.which("php", path="/usr/bin:/bin"):
        assert with_php.runtime == "php" and with_php.redis["reply"] == "PONG"


@pytest.mark.parametrize("variant", ["full", "short"])
def test_each_variant_of_the_probe_is_posix_sh(variant) -> None:
    import subprocess

    from doctor.probe import probe_source

    src = probe_source(variant)
    assert "#>" not in src and "@PHP@" not in src and src.count("<?php") == 1
    if shutil.which("dash"):
        assert subprocess.run(["dash", "-n"], input=src, text=True).returncode == 0
    if shutil.which("php"):  # the embedded, minified php parses
        php = re.search(r'<<"EOP"[^\n]*\n(.*?)\nEOP\n', src, re.S).group(1)
        assert subprocess.run(["php", "-l"], input=php, capture_output=True, text=True).returncode == 0
