"""Where a report goes besides stdout: ``--output [FORMAT=]PATH`` values, and writing them atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from doctor.errors import UsageError
from doctor.render import EXTENSIONS, available_formats


class Output(NamedTuple):
    format: str
    path: Path


def check_format(fmt: str) -> str:
    """``fmt`` if a renderer for it is installed, else a usage error listing the available ones."""
    formats = available_formats()
    if fmt not in formats:
        raise UsageError(f"unknown or unavailable output format {fmt!r}; available: {', '.join(formats)}")
    return fmt


def parse_outputs(values: list[str], default_format: str) -> list[Output]:
    """``--output [FORMAT=]PATH`` values -> (format, path); the format defaults from the extension,
    else ``default_format`` (json when that is text: a file is for machines)."""
    out = []
    for v in values:
        fmt, sep, path = v.partition("=")
        if sep and fmt.isidentifier():  # FORMAT=PATH (a path never looks like `word=`)
            if not path:
                raise UsageError(f"--output {v}: missing PATH after '='")
            out.append(Output(check_format(fmt), Path(path)))
        elif not v:
            raise UsageError("--output: empty PATH")
        else:
            p = Path(v)
            fmt = EXTENSIONS.get(p.suffix.lower(), default_format if default_format != "text" else "json")
            out.append(Output(check_format(fmt), p))
    return out


def write_file(path: Path, text: str) -> None:
    """Write atomically: a crash never leaves half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
