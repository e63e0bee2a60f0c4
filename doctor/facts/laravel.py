"""Laravel's naming rules the doctor reproduces: the Redis key prefix and ``Str::slug``."""

from __future__ import annotations

import re


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
