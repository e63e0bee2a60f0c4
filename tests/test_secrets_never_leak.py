"""Secrets never leave: distinctive values planted in SSM (SecureString) and in the web tier's .env must not
appear in stdout, stderr or any written report, in any output format, after a full run of every check
against the moto world with real Redis/MariaDB behind it (so probes actually log in with them).

The passwords hold ``/ + @ : % ! & *`` and the target shows them in every form a secret takes
(``support.secret_forms``): raw, URL-encoded, base64 (alone and inside a longer blob), JSON/HTML/XML-escaped,
in URL userinfo and query parameters — in failed_jobs exception lines (``queue.state``), in worker log lines
(``ecs.startup`` samples, one cut at the 300-character limit right across the secret) and in .env values
(``env.drift``). Weak SecureStrings (``true``, ``prod``) must not corrupt the JSON or unrelated words."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from doctor.render import available_formats

from support.secret_forms import leaks, planted_forms

EXT = {"json": "json", "text": "txt", "junit": "xml", "markdown": "md"}
SSM_SECRETS = {
    "DB_PASSWORD": "Pl4nt/ed+ssm@DB:pw%7e!&*c1e",
    "APP_KEY": "base64:" + base64.b64encode(b"planted-app-key-0123456789abcdef").decode(),
}
ENV_SECRETS = {
    "DB_PASSWORD": "Pl4nted-env-DB-pw-55aa",
    "REDIS_PASSWORD": "Pl4nted%41env/redis+pw@:!&*3344",
    "APP_KEY": "base64:" + base64.b64encode(b"planted-env-app-key-abcdef012345").decode(),
    "MAILGUN_SECRET": "Pl4nted-mailgun-secret-8877",
    "AWS_SECRET_ACCESS_KEY": "Pl4ntedEnvAwsSecretAccessKey123",
    "PUSHER_APP_ID": "Pl4nted-web-secure-value-1212",
}
SECURE_ONLY = ("PUSHER_APP_ID", "Pl4nted-ssm-securestring-9f2")  # SecureString under a harmless-looking name
WEAK = {"FEATURE_FLAG": "true", "LEGACY_DB_PASSWORD": "prod"}  # SecureStrings too weak to scrub as text
CUT_LIMIT = 300  # failed_jobs first lines and log samples are cut here


def _planted(redis_password: str) -> dict[str, str]:
    values = {f"ssm {k}": v for k, v in SSM_SECRETS.items()} | {f"env {k}": v for k, v in ENV_SECRETS.items()}
    values |= {"ssm securestring": SECURE_ONLY[1], "redis-server": redis_password}
    values |= {f"{label} payload": v[len("base64:"):] for label, v in values.items() if v.startswith("base64:")}
    return values


def _across_the_cut(head: str, secret: str) -> str:
    """A line whose 300-character cut falls in the middle of ``secret``."""
    return head + "x" * (CUT_LIMIT - len(head) - len(secret) // 2) + secret + " (end)"


def _plant_failed_jobs(mariadb: Any, secret: str) -> None:
    lines = [f"PDOException: SQLSTATE[HY000] [1045] ({form}) {text}" for form, (text, _) in planted_forms(secret).items()]
    lines.append(_across_the_cut("RuntimeException: ", secret))
    with mariadb.connect().cursor() as cur:
        for i, line in enumerate(lines):
            cur.execute("INSERT INTO failed_jobs (uuid, connection, queue, payload, exception, failed_at) VALUES "
                        "(%s, 'redis', 'image', '{}', %s, NOW() - INTERVAL 5 MINUTE)", (f"leak-{i}", line + "\n#0 x"))


def _plant_log_lines(session: Any, world: Any, secret: str) -> None:
    from doctor.sim.world import put_log_lines

    forms = planted_forms(secret)
    service = world.services["sync"]
    task = world.tasks[service][0].rsplit("/", 1)[-1]
    put_log_lines(session.client("logs"), world.log_groups[service], f"ecs/app/{task}", [
        "SQLSTATE[HY000] [1045] Access denied for user 'app'@'10.0.0.1' dsn " + forms["url-userinfo"][0],
        "Allowed memory size of 134217728 bytes exhausted; request had " + forms["base64-basic-auth"][0],
        "App\\Jobs\\Import has timed out; callback " + forms["query-password"][0],
        "Redis connection refused (" + forms["url-encoded"][0] + " / " + forms["base64"][0] + ")",
        _across_the_cut("SQLSTATE[HY000] [2002] Connection timed out ", secret),
    ])


def _env_file(path: Path, secret: str) -> tuple[Path, dict[str, str]]:
    """The .env (secrets, plus every form of ``secret`` in harmless-looking keys) and the differing SSM values
    of those keys (so `env.drift` shows the .env side of each)."""
    forms = {f"LEAK_FORM_{i}": text for i, (text, _) in enumerate(planted_forms(secret).values())}
    forms["LEAK_FORM_CUT"] = _across_the_cut("https://feeds.internal/export?page=2 ", secret)
    path.write_text("APP_NAME=propertyfeedtemplate\nDB_HOST=127.0.0.1\n"
                    + "".join(f'{k}="{v}"\n' for k, v in ENV_SECRETS.items())
                    + "".join(f"{k}='{v}'\n" for k, v in forms.items()))
    return path, {k: "ssm-side" for k in forms}


def test_planted_secrets_never_appear_anywhere(moto_endpoint: str, redis_server_auth: Any, mariadb: Any,
                                               dns_server: Any, tmp_path: Path, cli: Any) -> None:
    import boto3

    from doctor.sim.world import WorldSpec, build_world

    db_pw = SSM_SECRETS["DB_PASSWORD"]
    mariadb.execute_root([
        f"CREATE OR REPLACE USER 'leaktest'@'%' IDENTIFIED BY '{db_pw}'",
        f"CREATE OR REPLACE USER 'leaktest'@'localhost' IDENTIFIED BY '{db_pw}'",
        f"GRANT ALL ON `{mariadb.database}`.* TO 'leaktest'@'%'",
        f"GRANT ALL ON `{mariadb.database}`.* TO 'leaktest'@'localhost'",
    ])
    _plant_failed_jobs(mariadb, db_pw)
    env_file, env_only_params = _env_file(tmp_path / "production.env", ENV_SECRETS["REDIS_PASSWORD"])
    session = boto3.Session(region_name="eu-west-1")
    spec = WorldSpec(db_password=db_pw, app_key=SSM_SECRETS["APP_KEY"],
                     redis_password=redis_server_auth.password, redis_port=redis_server_auth.port,
                     db_port=mariadb.port, db_username="leaktest", db_name=mariadb.database,
                     extra_params=env_only_params)
    world = build_world(session, spec)
    for host in (world.redis_host, world.db_writer_endpoint):  # the world's endpoints lead to the real servers
        dns_server.set(host, "A", "127.0.0.1")
    (tmp_path / "ame-doctor.toml").write_text(f'[dns]\nnameservers = ["{dns_server.nameserver}"]\n')
    _plant_log_lines(session, world, ENV_SECRETS["REDIS_PASSWORD"])
    ssm = session.client("ssm")
    for name, value in [SECURE_ONLY, *WEAK.items()]:
        ssm.put_parameter(Name=world.param(name), Value=value, Type="SecureString", Overwrite=True)

    formats = available_formats()
    assert {"text", "json"} <= set(formats)
    outputs = {fmt: tmp_path / "out" / f"report.{EXT.get(fmt, fmt)}" for fmt in formats}
    args = ["run", "--env-file", str(env_file), "--exec", "local", "--timeout", "90", "--format", "text"]
    for fmt, path in outputs.items():
        args += ["--output", f"{fmt}={path}"]
    runs = [cli(*args, cwd=tmp_path, timeout=150)]
    assert runs[0].returncode in (0, 1), runs[0].stderr
    runs += [cli("report", str(outputs["json"]), "--format", fmt) for fmt in formats]  # re-rendered on stdout
    runs.append(cli("run", "--only", "ssm.values,env.drift,ecs.startup", "--env-file", str(env_file),
                    "--format", "json", "--exec", "off", cwd=tmp_path))
    runs.append(cli("diff", str(outputs["json"]), str(outputs["json"])))

    haystacks = {f"file {p.name}": p.read_text() for p in outputs.values()}
    for i, r in enumerate(runs):
        haystacks[f"run {i} stdout"] = r.stdout
        haystacks[f"run {i} stderr"] = r.stderr
    # the run did look at the planted forms (otherwise this test would prove nothing)
    report_text = haystacks["file report.json"]
    assert "(url-encoded)" in report_text and "LEAK_FORM_CUT" in report_text and "Connection timed out" in report_text

    found = leaks(haystacks, _planted(redis_server_auth.password))
    assert found == [], f"{len(found)} leaks of {len({(s, f) for _, s, f in found})} secret forms: {found}"

    # weak secrets: the JSON parses (report and diff read it), unrelated words stay whole, the parameters are named
    readers = [*runs[1:-2], runs[-1]]  # `report` in every format and `diff` read the saved JSON
    assert [r.returncode for r in readers] == [0] * len(readers), [r.stderr for r in readers]
    report = json.loads(report_text)
    json.loads(runs[-2].stdout)
    assert report["target"]["cluster"] == "propertyfeedtemplate-production"
    assert all("propertyfeedtemplate-***" not in text for text in haystacks.values())
    weak = [f for c in report["checks"] if c["id"] == "ssm.values" for f in c["findings"]
            if "ssm.secret_weak" in f["signals"]]
    assert sorted(f["evidence"]["parameter"] for f in weak) == sorted(world.param(k) for k in WEAK)
