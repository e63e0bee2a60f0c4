"""Saved reports for ``report``, ``view`` and ``diff``: read, and brought up to the current schema.

A report of schema 1 has playbook results but no ``diagnosis.root_causes``; they are derived here from
its playbook results and findings with the playbooks on disk (``doctor.diagnosis.root_causes``), so an
old incident attachment leads with its root cause like a new one. The file's ``schema_version`` is
kept: it says what was saved.
"""

from __future__ import annotations

from pydantic import ValidationError

from doctor.config import Config
from doctor.diagnosis import root_causes
from doctor.model import Report, load_report

ROOT_CAUSES_SINCE = 2  # the first schema_version whose reports carry diagnosis.root_causes


def config_of(report: Report) -> Config:
    """The configuration the report was made with, as far as it records it: cluster, region, queues."""
    t = report.target
    data: dict[str, object] = {"ecs": {"cluster": t.cluster}}
    if t.region:
        data["aws"] = {"region": t.region}
    if t.queues:
        data["queues"] = {name: {"service": q.service} for name, q in t.queues.items()}
    try:
        return Config.model_validate(data)
    except ValidationError:  # a target this version would not accept: the defaults still name the platform
        return Config()


def upgraded(report: Report) -> Report:
    """``report`` with its root causes derived when its schema predates them; otherwise as it is."""
    if report.schema_version >= ROOT_CAUSES_SINCE:
        return report
    diagnosis = root_causes(report.playbooks, report, config_of(report))
    return report.model_copy(update={"diagnosis": diagnosis})


def load_saved(path: str) -> Report:
    """``doctor.model.load_report`` (``ReportError``: one clear line) and ``upgraded``."""
    return upgraded(load_report(path))
