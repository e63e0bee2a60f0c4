"""Small parsers every layer shares: integers from loose input, AWS timestamps, durations, host names."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, overload


@overload
def to_int(value: Any, default: int) -> int: ...
@overload
def to_int(value: Any, default: None = None) -> int | None: ...
def to_int(value: Any, default: int | None = None) -> int | None:
    """``int(value)``, or ``default`` when the value is missing, empty or not an integer."""
    if value is None or value == "" or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


EPOCH_MIN = datetime.min.replace(tzinfo=UTC)


def to_datetime(value: Any) -> datetime:
    """An AWS timestamp (datetime, epoch seconds or ISO 8601) as an aware datetime; unknown -> the minimum."""
    return parse_datetime(value) or EPOCH_MIN


def parse_datetime(value: Any) -> datetime | None:
    """Like :func:`to_datetime`, but None when the value is missing or unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def norm_host(host: str | None) -> str:
    """A DNS name for comparison: lower case, no trailing dot, no surrounding blanks."""
    return (host or "").strip().rstrip(".").lower()


_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``6h``, ``2d``, ``1w`` as a timedelta; ValueError (saying what is accepted) otherwise."""
    m = _DURATION.match(text or "")
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration: use a positive number and s, m, h, d or w (e.g. 6h, 30m)")
    return timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2)])
