"""What every timeline source shares: the time window, what one source read (its events and whether it
read everything), and the one place a source's failure becomes a status (a denied call names the IAM
action; nothing a source does stops the others)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from doctor.aws import denied_action, is_unreachable
from doctor.model import SourceStatus, TimelineEvent, TimelineSource
from doctor.util import parse_datetime


@dataclass(frozen=True)
class Window:
    """The look-back window, and the monotonic deadline by which the sources must stop reading."""

    since: datetime
    until: datetime
    deadline: float = float("inf")

    def contains(self, at: datetime | None) -> bool:
        return at is not None and self.since <= at <= self.until

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def when(value: object) -> datetime | None:
    """An AWS timestamp as an aware UTC datetime, or None."""
    if isinstance(value, str):
        return _when_text(value)
    at = parse_datetime(value)
    return at.astimezone(UTC) if at is not None else None


@lru_cache(maxsize=1 << 16)
def _when_text(value: str) -> datetime | None:
    """An event's ISO time, read once however many times the timeline compares it."""
    at = parse_datetime(value)
    return at.astimezone(UTC) if at is not None else None


@dataclass
class SourceRead:
    name: str
    events: list[TimelineEvent] = field(default_factory=list)
    status: SourceStatus = SourceStatus.ok
    note: str = ""
    unlock: str | None = None

    def cut_short(self, note: str) -> None:
        """Read, but not all of it (a page bound, throttling, the deadline)."""
        if self.status == SourceStatus.ok:
            self.status = SourceStatus.partial
        self.note = f"{self.note}; {note}" if self.note else note

    def summary(self) -> TimelineSource:
        return TimelineSource(name=self.name, status=self.status, events=len(self.events), note=self.note,
                              unlock=self.unlock)


def guarded(name: str, read: Callable[[SourceRead], None]) -> SourceRead:
    """Run ``read`` (which fills the SourceRead it is given); a failure becomes the source's status:
    denied -> ``missing`` naming the IAM action, else ``error``. Events read before it stay."""
    out = SourceRead(name)
    try:
        read(out)
    except Exception as e:
        action = denied_action(e)
        if action:
            out.status, out.unlock = SourceStatus.missing, action
            out.note = f"access denied: needs {action}"
        elif is_unreachable(e):
            out.status, out.note = SourceStatus.error, f"AWS endpoint unreachable: {e}"
        else:
            out.status, out.note = SourceStatus.error, f"{type(e).__name__}: {e}"
    return out
