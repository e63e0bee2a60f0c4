"""env.drift — the web tier's prod .env against the workers' SSM values, key by key, by fingerprint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from doctor.checkapi import CheckContext, check, load_meta
from doctor.dotenv import DotenvReadError, load
from doctor.facts import laravel_redis_prefix
from doctor.model import Finding

META = load_meta(__file__)

DB_DEFAULTS = {"DB_HOST": "127.0.0.1"}
REDIS_KEYS = ("REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PREFIX", "APP_NAME")
CALLED_OUT = {"DB_HOST", *REDIS_KEYS}
TARGET_KEYS = {"host": "REDIS_HOST", "port": "REDIS_PORT", "db": "REDIS_DB", "prefix": "REDIS_PREFIX"}
IMPORTANT = {"APP_KEY", "DB_HOST", "DB_PORT", "DB_DATABASE", "DB_USERNAME", "DB_PASSWORD", "QUEUE_CONNECTION",
             "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB", "REDIS_PREFIX", "REDIS_QUEUE",
             "APP_NAME", "AWS_BUCKET", "REDIS_CLIENT", "REDIS_SCHEME"}


_ENV_LITERALS = {"true": "true", "(true)": "true", "false": "false", "(false)": "false",
                 "empty": "", "(empty)": "", "null": None, "(null)": None}


def laravel_env(value: str | None) -> str | None:
    """What Laravel's ``env()`` returns for a raw value: ``null``/``(null)`` -> null, ``(true)`` -> true,
    ``(empty)`` -> '', and one pair of surrounding quotes stripped (``Env::get``)."""
    if value is None:
        return None
    low = value.lower()
    if low in _ENV_LITERALS:
        return _ENV_LITERALS[low]
    if len(value) > 1 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def redis_target(values: dict[str, str]) -> dict[str, str]:
    """The effective Redis target Laravel would use (config/database.php defaults)."""
    return {
        "host": values.get("REDIS_HOST", "127.0.0.1"),
        "port": values.get("REDIS_PORT", "6379"),
        "db": values.get("REDIS_DB", "0"),
        "prefix": laravel_redis_prefix(values),
    }


@check(META)
def run(ctx: CheckContext) -> Iterator[Finding]:
    path = ctx.config.env.file
    if path is None:
        ctx.unknown("no .env given: the web tier's values cannot be compared with SSM",
                    unlock="--env-file PATH")
        return
    try:
        env = load(path)
    except DotenvReadError as e:
        ctx.unknown(f"cannot read the .env: {e}", unlock="--env-file PATH")
        return

    params = ctx.facts.ssm_parameters()
    ssm = ctx.facts.ssm_values()
    base = ctx.config.ssm.path
    secure = {k for k in ssm if params.get(base + k, {}).get("Type") == "SecureString"}
    ctx.redactor.add_mapping(env.values, secure_keys=secure)
    fp = ctx.redactor.fingerprint
    source = str(path)

    def secret(key: str) -> bool:
        return key in secure or ctx.redactor.is_secret_key(key)

    def shown(key: str, env_v: str | None, ssm_v: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"env_fingerprint": fp(env_v), "ssm_fingerprint": fp(ssm_v)}
        if not secret(key):
            out.update(env_value=env_v, ssm_value=ssm_v)
        return out

    def masked(target: dict[str, str]) -> dict[str, str]:
        return {part: (fp(v) or "") if secret(TARGET_KEYS[part]) else v for part, v in target.items()}

    problems = 0
    if env.errors:
        problems += 1
        yield ctx.finding("env_malformed", source,
                          evidence={"file": source, "errors": [{"line": e.line, "key": e.key, "reason": e.reason}
                                                                for e in env.errors]},
                          source=source, count=len(env.errors),
                          lines=", ".join(str(e.line) for e in env.errors[:10]))

    # --- the DB host and the Redis target, by name --------------------------------------------
    env_db = env.values.get("DB_HOST", DB_DEFAULTS["DB_HOST"])
    ssm_db = ssm.get("DB_HOST", DB_DEFAULTS["DB_HOST"])
    if env_db != ssm_db:
        problems += 1
        hosts: dict[str, Any] = {} if secret("DB_HOST") else {"env_host": env_db, "ssm_host": ssm_db}  # never a secret
        yield ctx.finding("db_host_differs", "DB_HOST",
                          evidence={"key": "DB_HOST", "env_line": env.line_of("DB_HOST"), "parameter": base + "DB_HOST",
                                    **shown("DB_HOST", env.values.get("DB_HOST"), ssm.get("DB_HOST"))},
                          resources=[base + "DB_HOST", source], variant="secret" if secret("DB_HOST") else None,
                          base=base, source=source, **hosts)
    env_rt, ssm_rt = redis_target(env.values), redis_target(ssm)
    differs = [k for k in env_rt if env_rt[k] != ssm_rt[k]]
    env_rt, ssm_rt = masked(env_rt), masked(ssm_rt)  # fingerprints for parts held in secret keys
    diff: dict[str, dict[str, str | None]] = {k: {"env": env_rt[k], "ssm": ssm_rt[k]} for k in differs}
    app_names = (env.values.get("APP_NAME"), ssm.get("APP_NAME"))
    if "prefix" in diff and app_names[0] != app_names[1] and "REDIS_PREFIX" not in env.values:
        diff["APP_NAME"] = {"env": app_names[0], "ssm": app_names[1]}
    if diff:
        problems += 1
        yield ctx.finding("redis_target_differs", "redis",
                          evidence={"differs": diff, "env_target": env_rt, "ssm_target": ssm_rt,
                                    "keys": [k for k in REDIS_KEYS if env.values.get(k) != ssm.get(k)]},
                          resources=[base + k for k in REDIS_KEYS if env.values.get(k) != ssm.get(k)] + [source],
                          parts=", ".join(diff), source=source, base=base)

    # --- every other key -----------------------------------------------------------------------
    # a key set to null on one side and absent on the other means the same to Laravel
    missing_in_ssm = sorted(k for k in env.values if k not in ssm and laravel_env(env.values[k]) is not None)
    missing_in_env = sorted(k for k in ssm if k not in env.values and laravel_env(ssm[k]) is not None)
    for key in sorted(set(env.values) & set(ssm)):
        if key in CALLED_OUT or laravel_env(env.values[key]) == laravel_env(ssm[key]):
            continue
        problems += 1
        yield ctx.finding("value_differs", key,
                          evidence={"key": key, "env_line": env.line_of(key), "parameter": base + key,
                                    **shown(key, env.values[key], ssm[key])},
                          resources=[base + key, source], severity="error" if key in IMPORTANT else "warning",
                          variant="secret" if secret(key) else None, key=key, source=source, base=base)
    if missing_in_ssm:
        problems += 1
        important = [k for k in missing_in_ssm if k in IMPORTANT]
        yield ctx.finding("key_missing_in_ssm", base,
                          evidence={"keys": missing_in_ssm, "important": important, "path": base},
                          resources=[base + k for k in missing_in_ssm], severity="error" if important else "warning",
                          count=len(missing_in_ssm), source=source, names=_names(missing_in_ssm), base=base)
    if missing_in_env:
        problems += 1
        yield ctx.finding("key_missing_in_env", source, evidence={"keys": missing_in_env, "file": source},
                          resources=[source], count=len(missing_in_env), source=source, names=_names(missing_in_env),
                          base=base)
    if problems == 0:
        compared = len(set(env.values) & set(ssm))
        yield ctx.finding("ok", source, evidence={"file": source, "path": base, "keys_compared": compared,
                                                  "duplicates_ignored": [k for k, _ in env.duplicates]},
                          source=source, base=base, count=compared)

def _names(keys: list[str], limit: int = 8) -> str:
    return ", ".join(keys[:limit]) + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")
