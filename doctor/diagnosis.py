"""Playbook loading and cause ranking (filled in by the playbooks issue)."""

from __future__ import annotations

from doctor.config import Config
from doctor.model import PlaybookResult, Report


def diagnose(report: Report, config: Config) -> list[PlaybookResult]:
    return []


def checks_for_playbook(playbook_id: str) -> list[str]:
    return []
