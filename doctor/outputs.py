"""Where a report goes besides stdout: ``--output [FORMAT=]PATH`` values, and writing them safely.

How a PATH is written depends on what it is:

- ``-``: standard output;
- a character device, FIFO or socket (``/dev/null``, ``/dev/stdout``, ``/dev/fd/N``, a named pipe), also
  through symbolic links: written directly, never replaced (the node stays what it is);
- a regular file, or a new one: written atomically — a temporary file in the same directory, then renamed
  over the target — so a reader never sees half a report; the temporary file is removed on any error;
- a symbolic link to a regular file: followed deliberately — the link stays, its final target is written
  atomically. A link in a world-writable sticky directory (``/tmp``) owned by someone else is refused, as
  the kernel's ``protected_symlinks`` would;
- a directory: refused before the run (exit 2).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys
from pathlib import Path
from typing import NamedTuple

from doctor.errors import UsageError
from doctor.render import EXTENSIONS, available_formats

STDOUT = "-"
_MAX_LINKS = 40  # as the kernel's ELOOP limit


class Output(NamedTuple):
    format: str
    path: Path


class OutputError(Exception):
    """A report that could not be written: one line naming the path, exit 3 (the doctor could not finish)."""


def check_format(fmt: str) -> str:
    """``fmt`` if a renderer for it is installed, else a usage error listing the available ones."""
    formats = available_formats()
    if fmt not in formats:
        raise UsageError(f"unknown or unavailable output format {fmt!r}; available: {', '.join(formats)}")
    return fmt


def parse_outputs(values: list[str], default_format: str) -> list[Output]:
    """``--output [FORMAT=]PATH`` values -> (format, path); the format defaults from the extension,
    else ``default_format`` (json when that is text: a file is for machines). A PATH that is a directory
    is a usage error here, before anything runs."""
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
        if str(out[-1].path) != STDOUT and out[-1].path.is_dir():
            raise UsageError(f"--output {v}: is a directory (give a file name)")
    return out


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as the module docstring says; ``OutputError`` (one line) when it cannot."""
    if str(path) == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        target = _final_target(path)
        st = _stat(path if target is None else target)
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise OutputError(f"cannot write {path}: is a directory")
        if target is None or (st is not None and not stat.S_ISREG(st.st_mode)):
            with open(path, "w", encoding="utf-8") as f:  # a descriptor, device, FIFO or socket: as it is
                f.write(text)
            return
        _write_atomically(target, text, st)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _final_target(path: Path) -> Path | None:
    """The path a chain of symbolic links ends at (``path`` itself when it is no link); None for a link
    through /proc (``/dev/stdout`` -> ``/proc/self/fd/1``): a descriptor, written directly whatever it is."""
    current = path
    for _ in range(_MAX_LINKS):
        if not current.is_symlink():
            return current
        parent = Path(os.path.realpath(current.parent))
        if parent.parts[1:2] == ("proc",):
            return None
        _refuse_foreign_link(current, parent)
        link = Path(os.readlink(current))
        if link.parts[1:2] == ("proc",):
            return None
        current = link if link.is_absolute() else parent / link
    raise OutputError(f"cannot write {path}: too many levels of symbolic links")


def _refuse_foreign_link(link: Path, parent: Path) -> None:
    """A link in a world-writable sticky directory is followed only when we or the directory's owner own it."""
    dir_st = os.stat(parent)
    if dir_st.st_mode & stat.S_ISVTX and dir_st.st_mode & stat.S_IWOTH:
        owner = os.lstat(link).st_uid
        if owner not in (os.geteuid(), dir_st.st_uid):
            raise OutputError(f"cannot write {link}: a symbolic link owned by another user in a world-writable "
                              "directory (not followed)")


def _write_atomically(target: Path, text: str, existing: os.stat_result | None) -> None:
    """A temporary file next to ``target`` (the existing file's permissions, else the umask's), then renamed
    over it; the temporary file never outlives an error."""
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(existing.st_mode) if existing is not None else 0o666
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if existing is not None:
            os.chmod(tmp, mode)  # O_CREAT's mode went through the umask
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
