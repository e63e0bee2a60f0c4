"""What the pure queue judgements return: a finding to report, as plain data.

The check turns each :class:`ToReport` into a finding of the declared kind, read as its ``variant``
(``ctx.finding(kind, resource, evidence=..., resources=..., severity=..., signals=..., variant=..., **values)``);
the kinds' text, one reading per variant, lives in ``checks/queue_state.toml``. Tests compare these values
directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToReport:
    kind: str                                             # a [kinds.<kind>] of queue.state
    resource: str
    evidence: dict[str, Any]
    resources: list[str] = field(default_factory=list)   # empty: [resource]
    values: dict[str, Any] = field(default_factory=dict)  # the kind's template values
    severity: str | None = None                           # None: the kind's default
    signals: tuple[str, ...] = ()                         # signals beyond the kind's main one
    variant: str | None = None                            # a [kinds.<kind>.variants.<name>]; None: the kind
