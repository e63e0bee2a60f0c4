"""The Redis and database the workers connect to, as connection targets for the probes.

``Facts.redis_target`` / ``Facts.db_target`` (:mod:`doctor.facts.core`) fill them from the doctor's config
(``[redis] host`` / ``[database] host`` when set) else from the SSM values the workers read (``REDIS_*`` /
``DB_*``); the host-vantage probes in :mod:`doctor.net.hostprobe` connect to them.
"""

from __future__ import annotations

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
