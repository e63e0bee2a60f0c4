"""Renderers format a Report; they never compute. ``render(report, fmt)`` -> str."""

from __future__ import annotations

import importlib

from doctor.model import Report

FORMATS = {
    "text": "doctor.render.text",
    "json": "doctor.render.json",
    "junit": "doctor.render.junit",
    "markdown": "doctor.render.markdown",
}
EXTENSIONS = {".json": "json", ".xml": "junit", ".md": "markdown", ".txt": "text"}


def available_formats() -> list[str]:
    out = []
    for name, mod in FORMATS.items():
        try:
            importlib.import_module(mod)
            out.append(name)
        except ImportError:
            continue
    return out


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    module = importlib.import_module(FORMATS[fmt])
    return str(module.render(report, color=color))
