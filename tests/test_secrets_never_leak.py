"""Secrets never leave: distinctive values planted in SSM (SecureString) and in the web tier's .env must not
appear in stdout, stderr or any written report, in any output format, after a full run of every check
against the moto world with real Redis/MariaDB behind it (so probes actually log in with them)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from doctor.render import available_formats

EXT = {"json": "json", "text": "txt", "junit": "xml", "markdown": "md"}
SSM_SECRETS = {
    "DB_PASSWORD": "Pl4nted-ssm-DB-pw-7c1e",
    "APP_KEY": "base64:" + base64.b64encode(b"planted-app-key-0123456789abcdef").decode(),
}
ENV_SECRETS = {
    "DB_PASSWORD": "Pl4nted-env-DB-pw-55aa",
    "REDIS_PASSWORD": "Pl4nted-env-redis-pw-3344",
    "APP_KEY": "base64:" + base64.b64encode(b"planted-env-app-key-abcdef012345").decode(),
    "MAILGUN_SECRET": "Pl4nted-mailgun-secret-8877",
    "AWS_SECRET_ACCESS_KEY": "Pl4ntedEnvAwsSecretAccessKey123",
    "PUSHER_APP_ID": "Pl4nted-web-secure-value-1212",
}
SECURE_ONLY = ("PUSHER_APP_ID", "Pl4nted-ssm-securestring-9f2")  # SecureString under a harmless-looking name


def _planted(redis_password: str) -> list[str]:
    values = [*SSM_SECRETS.values(), *ENV_SECRETS.values(), SECURE_ONLY[1], redis_password]
    values += [v[len("base64:"):] for v in values if v.startswith("base64:")]  # the key material itself
    return values


def test_planted_secrets_never_appear_anywhere(moto_endpoint: str, redis_server_auth: Any, mariadb: Any,
                                               tmp_path: Path, cli: Any) -> None:
    import boto3

    from doctor.sim.world import WorldSpec, build_world

    mariadb.execute_root([
        f"CREATE USER IF NOT EXISTS 'leaktest'@'%' IDENTIFIED BY '{SSM_SECRETS['DB_PASSWORD']}'",
        f"CREATE USER IF NOT EXISTS 'leaktest'@'localhost' IDENTIFIED BY '{SSM_SECRETS['DB_PASSWORD']}'",
        f"GRANT ALL ON `{mariadb.database}`.* TO 'leaktest'@'%'",
        f"GRANT ALL ON `{mariadb.database}`.* TO 'leaktest'@'localhost'",
    ])
    session = boto3.Session(region_name="eu-west-1")
    spec = WorldSpec(db_password=SSM_SECRETS["DB_PASSWORD"], app_key=SSM_SECRETS["APP_KEY"],
                     redis_password=redis_server_auth.password, redis_port=redis_server_auth.port,
                     db_port=mariadb.port, db_username="leaktest", db_name=mariadb.database,
                     extra_params={"DB_HOST": "127.0.0.1", "REDIS_HOST": "127.0.0.1"})
    world = build_world(session, spec)
    session.client("ssm").put_parameter(Name=world.param(SECURE_ONLY[0]), Value=SECURE_ONLY[1],
                                        Type="SecureString", Overwrite=True)
    env_file = tmp_path / "production.env"
    env_file.write_text("APP_NAME=propertyfeedtemplate\nDB_HOST=127.0.0.1\n"
                        + "".join(f'{k}="{v}"\n' for k, v in ENV_SECRETS.items()))

    formats = available_formats()
    assert {"text", "json"} <= set(formats)
    outputs = {fmt: tmp_path / "out" / f"report.{EXT.get(fmt, fmt)}" for fmt in formats}
    args = ["run", "--env-file", str(env_file), "--exec", "local", "--timeout", "90", "--format", "text"]
    for fmt, path in outputs.items():
        args += ["--output", f"{fmt}={path}"]
    runs = [cli(*args, cwd=tmp_path, timeout=150)]
    assert runs[0].returncode in (0, 1), runs[0].stderr
    for fmt in formats:  # every format on stdout too, re-rendered from the saved JSON
        runs.append(cli("report", str(outputs["json"]), "--format", fmt))
        assert runs[-1].returncode == 0, runs[-1].stderr
    runs.append(cli("run", "--only", "ssm.values,env.drift", "--env-file", str(env_file), "--format", "json",
                    "--exec", "off", cwd=tmp_path))

    haystacks = {f"file {p.name}": p.read_text() for p in outputs.values()}
    for i, r in enumerate(runs):
        haystacks[f"run {i} stdout"] = r.stdout
        haystacks[f"run {i} stderr"] = r.stderr
    # the run did look at the secrets (otherwise this test would prove nothing)
    report = haystacks["file report.json"]
    assert '"env.drift"' in report and '"ssm.values"' in report
    leaks = [(where, secret) for secret in _planted(redis_server_auth.password)
             for where, text in haystacks.items() if secret in text]
    assert leaks == []
