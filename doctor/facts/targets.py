"""Where the workers' Redis and database are: the targets checks connect to, and Laravel's key prefix.

A target comes from the doctor's config when ``[redis] host`` / ``[database] host`` is set, else from
the SSM values the workers themselves read (``REDIS_*`` / ``DB_*``). ``Facts.redis_target`` and
``Facts.db_target`` build them; this module only holds the shapes and Laravel's naming rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class RedisTarget:
    host: str | None
    port: int
    password: str | None
    db: int
    prefix: str
    tls: bool
    source: str  # "config" | "ssm"


@dataclass(frozen=True)
class DbTarget:
    host: str | None
    port: int
    database: str | None
    username: str | None
    password: str | None
    source: str


def laravel_redis_prefix(values: dict[str, str]) -> str:
    """The Redis key prefix as Laravel's config/database.php derives it (8.x-11.x default).

    ``REDIS_PREFIX`` wins; else ``Str::slug(APP_NAME, '_') . '_database_'``.
    """
    if "REDIS_PREFIX" in values:
        return values["REDIS_PREFIX"]
    return slug(values.get("APP_NAME", "laravel"), "_") + "_database_"


def slug(title: str, separator: str = "-") -> str:
    """Laravel ``Str::slug`` for ASCII input."""
    flip = "_" if separator == "-" else "-"
    title = re.sub(re.escape(flip) + "+", separator, title)
    title = title.replace("@", separator + "at" + separator)
    title = re.sub(r"[^" + re.escape(separator) + r"\w\s]+", "", title.lower())
    title = re.sub(r"[" + re.escape(separator) + r"\s]+", separator, title)
    return title.strip(separator)
