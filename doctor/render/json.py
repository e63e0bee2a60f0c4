from __future__ import annotations

from doctor.model import Report


def render(report: Report, *, color: bool = False) -> str:
    return report.to_json() + "\n"
