"""A ``.env`` parser that reads files exactly as Laravel does (vlucas/phpdotenv 5.x).

The rules reproduced here (phpdotenv's ``Lines``, ``EntryParser``, ``Lexer`` and ``Resolver``):

- a line whose trimmed text is empty or starts with ``#`` is skipped;
- a value opened with ``="`` that does not close on its line continues over the following lines
  (double quotes only) until an unescaped ``"``;
- ``NAME=VALUE``: both sides trimmed; ``export NAME`` and a quoted name (``"NAME"``) are accepted;
  names are letters, digits, ``_`` and ``.``; a line without ``=`` declares NAME with no value
  (phpdotenv clears it; nothing is set);
- unquoted values end at whitespace, and ``#`` starts a comment anywhere in them; anything but a
  comment after that whitespace is an error ("unexpected whitespace");
- single-quoted values are literal; double-quoted values accept the escapes ``\\" \\\\ \\$ \\f \\n
  \\r \\t \\v`` (any other is an error); after the closing quote only whitespace or a comment may follow;
- ``${NAME}`` is interpolated in unquoted and double-quoted values (not single-quoted, not after
  ``\\$``) from the variables defined EARLIER in the file (or ``environ``); an unknown name is left
  as written. ``$NAME`` without braces is literal;
- Laravel's repository is immutable: when a name is defined twice, the FIRST value wins.

Expansion is bounded where phpdotenv is not (there, nested ``${A}${A}`` lines run PHP out of memory): a
value that would expand beyond ``MAX_VALUE_CHARS``, a file whose values together would beyond
``MAX_TOTAL_CHARS``, or a chain of more than ``MAX_DEPTH`` nested references raises ``DotenvLimitError``
naming the line and key. The file is read within ``MAX_FILE_BYTES``; a pipe (``--env-file <(...)``) or
FIFO is read once and remembered for the run, so a re-run check sees the same text.

Unlike phpdotenv, a malformed line does not abort: it is recorded in ``errors`` with its line
number (Laravel itself refuses to boot with such a file, which is worth reporting) and parsing
continues. Error reasons never contain the value (it may be a secret).
"""

from __future__ import annotations

import os
import re
import stat
import threading
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from doctor.inputs import InputError, read_text_bounded

MAX_FILE_BYTES = 1 << 20        # a .env is a few KB
MAX_VALUE_CHARS = 1 << 16       # one value after ${VAR} expansion
MAX_TOTAL_CHARS = 1 << 22       # all values of the file after expansion
MAX_DEPTH = 16                  # ${A} whose value holds ${B} whose value holds ${C} ...

_NAME = re.compile(r"\A[a-zA-Z0-9_.]+\Z")
_VAR = re.compile(r"\$\{([a-zA-Z0-9_.]+)\}")  # used with .match(s, pos): anchored at pos
_ESCAPES = {"f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_QUOTE_AFTER_NON_BACKSLASH = re.compile(r'(?=([^\\]"))')


@dataclass(frozen=True)
class DotenvEntry:
    key: str
    value: str | None   # None: declared without '=' (not set)
    line: int           # 1-based line where the entry starts
    quote: str | None   # '"' or "'" when the value was quoted


@dataclass(frozen=True)
class DotenvError:
    line: int
    key: str | None
    reason: str


@dataclass
class DotenvFile:
    values: dict[str, str] = field(default_factory=dict)        # what Laravel would see (first wins)
    entries: list[DotenvEntry] = field(default_factory=list)
    errors: list[DotenvError] = field(default_factory=list)
    duplicates: list[tuple[str, int]] = field(default_factory=list)  # (key, line of the ignored repeat)
    path: str | None = None

    def line_of(self, key: str) -> int | None:
        return next((e.line for e in self.entries if e.key == key), None)


class DotenvReadError(Exception):
    """The file itself cannot be read (missing, unreadable, not text, too large)."""


class DotenvLimitError(DotenvReadError):
    """``${VAR}`` expansion beyond the bounds (size or depth): the file is refused, as PHP would fail on it."""


# --- lines -------------------------------------------------------------------------------------
def _looks_like_multiline_stop(line: str, started: bool) -> bool:
    if line == '"':
        return True
    count = len(_QUOTE_AFTER_NON_BACKSLASH.findall(line.replace("\\\\", "")))
    return count > 1 if started else count >= 1


def _looks_like_multiline_start(line: str) -> bool:
    return '="' in line and not _looks_like_multiline_stop(line, True)


def _logical_lines(text: str) -> tuple[list[tuple[int, str]], int | None]:
    """(start line number, entry text) for every non-comment entry; plus the start line of an
    unterminated multiline value (phpdotenv silently drops it)."""
    out: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    multiline = False
    for no, line in enumerate(re.split(r"\r\n|\n|\r", text), 1):
        # phpdotenv's Lines::multilineProcess: the start test runs on every line, even inside a value
        started = _looks_like_multiline_start(line)
        if started and not multiline:
            start = no
        if started:
            multiline = True
        if multiline:
            buffer.append(line)
            if _looks_like_multiline_stop(line, started):
                multiline = False
                line = "\n".join(buffer)
                buffer = []
        else:
            start = no
        if multiline:
            continue
        stripped = line.strip()
        if stripped == "" or stripped.startswith("#"):
            continue
        out.append((start, line))
    return out, (start if multiline else None)


# --- one entry ---------------------------------------------------------------------------------
class _EntryError(Exception):
    pass


def _parse_name(raw: str) -> str:
    name = raw
    if len(name) > 8 and name.startswith("export") and name[6].isspace():
        name = name[6:].lstrip()
    if len(name) > 2 and name[0] == name[-1] and name[0] in "\"'":
        name = name[1:-1]
    if not _NAME.match(name):
        raise _EntryError("an invalid name")
    return name


def _parse_value(raw: str) -> tuple[str, list[int], str | None]:
    """phpdotenv's value state machine: (chars, positions of interpolatable '$', quote char)."""
    if raw.strip() == "":
        return "", [], None
    initial, unquoted, single, double, escape, white, comment = range(7)
    state = initial
    chars: list[str] = []
    variables: list[int] = []
    quote: str | None = None
    for ch in raw:
        if state == initial:
            if ch == "'":
                state, quote = single, "'"
            elif ch == '"':
                state, quote = double, '"'
            elif ch == "#":
                state = comment
            else:
                if ch == "$":
                    variables.append(len(chars))
                chars.append(ch)
                state = unquoted
        elif state == unquoted:
            if ch == "#":
                state = comment
            elif ch.isspace():
                state = white
            else:
                if ch == "$":
                    variables.append(len(chars))
                chars.append(ch)
        elif state == single:
            if ch == "'":
                state = white
            else:
                chars.append(ch)
        elif state == double:
            if ch == '"':
                state = white
            elif ch == "\\":
                state = escape
            else:
                if ch == "$":
                    variables.append(len(chars))
                chars.append(ch)
        elif state == escape:
            if ch in '"\\$':
                chars.append(ch)
            elif ch in _ESCAPES:
                chars.append(_ESCAPES[ch])
            else:
                raise _EntryError("an unexpected escape sequence")
            state = double
        elif state == white:
            if ch == "#":
                state = comment
            elif not ch.isspace():
                raise _EntryError("unexpected whitespace")
        else:  # comment
            break
    if state in (single, double, escape):
        raise _EntryError("a missing closing quote")
    return "".join(chars), variables, quote


def _resolve(chars: str, variables: list[int], lookup: Mapping[str, str]) -> tuple[str, list[str]]:
    """``chars`` with each known ``${NAME}`` at the ``variables`` positions replaced (linear: the pieces are
    joined once, their total length checked before), and the names replaced."""
    pieces: list[str] = []
    names: list[str] = []
    at = 0
    size = len(chars)
    for i in variables:
        m = _VAR.match(chars, i)
        if i < at or not m or m.group(1) not in lookup:
            continue
        value = lookup[m.group(1)]
        size += len(value) - (m.end() - i)
        if size > MAX_VALUE_CHARS:
            raise _EntryError(f"a value expanding beyond {MAX_VALUE_CHARS} characters")
        pieces += (chars[at:i], value)
        names.append(m.group(1))
        at = m.end()
    pieces.append(chars[at:])
    return "".join(pieces), names


# --- file --------------------------------------------------------------------------------------
def parse(text: str, environ: Mapping[str, str] | None = None) -> DotenvFile:
    """Parse .env text. ``environ`` stands for variables already in the process environment
    (they win over the file, as in Laravel's immutable repository); default: none."""
    if text.startswith("\ufeff"):
        text = text[1:]
    env = dict(environ or {})
    out = DotenvFile()
    lookup = ChainMap(env, out.values)  # the environment wins, as in Laravel's immutable repository
    depth: dict[str, int] = {}  # key -> how many nested ${...} its value went through
    total = 0
    lines, unterminated = _logical_lines(text)
    for no, entry in lines:
        key: str | None = None
        try:
            if "=" in entry:
                raw_name, raw_value = (p.strip() for p in entry.split("=", 1))
                if raw_name == "":
                    raise _EntryError("an unexpected equals")
                key = _parse_name(raw_name)
                chars, variables, quote = _parse_value(raw_value)
            else:
                key = _parse_name(entry.strip())
                out.entries.append(DotenvEntry(key, None, no, None))
                continue
        except _EntryError as e:
            shown = key if key is not None else None
            out.errors.append(DotenvError(no, shown, f"Encountered {e}"))
            continue
        try:
            value, names = _resolve(chars, variables, lookup)
        except _EntryError as e:
            raise DotenvLimitError(f"line {no}: {key}: ${{...}} expansion refused: {e}") from None
        level = 1 + max((depth.get(n, 0) for n in names), default=-1)
        if level > MAX_DEPTH:
            raise DotenvLimitError(f"line {no}: {key}: ${{...}} expansion refused: more than {MAX_DEPTH} nested "
                                   "references")
        total += len(value)
        if total > MAX_TOTAL_CHARS:
            raise DotenvLimitError(f"line {no}: {key}: ${{...}} expansion refused: the values expand beyond "
                                   f"{MAX_TOTAL_CHARS} characters in all")
        out.entries.append(DotenvEntry(key, value, no, quote))
        if key in out.values or key in env:
            out.duplicates.append((key, no))
            continue
        out.values[key] = value
        depth[key] = level
    if unterminated is not None:
        out.errors.append(DotenvError(unterminated, _guess_key(text, unterminated),
                                      "Encountered a missing closing quote (multiline value never closed; "
                                      "phpdotenv drops it and everything after it)"))
    out.errors.sort(key=lambda e: e.line)
    return out


def _guess_key(text: str, line_no: int) -> str | None:
    lines = re.split(r"\r\n|\n|\r", text)
    if 0 < line_no <= len(lines):
        name = lines[line_no - 1].split("=", 1)[0].strip()
        try:
            return _parse_name(name)
        except _EntryError:
            return None
    return None


_STREAMS: dict[tuple[str, int, int], str] = {}  # a pipe or FIFO read once: (path, device, inode) -> its text
_STREAMS_LOCK = threading.Lock()


def read_env_text(path: str | Path) -> str:
    """The text of a .env file, within ``MAX_FILE_BYTES``; a pipe, FIFO or device is read once and its text
    kept for the run (``--env-file <(...)`` can be read again by a re-run check)."""
    p = str(path)
    try:
        st = os.stat(p)
    except OSError:
        return _read(p)  # read_text_bounded names the problem
    if stat.S_ISREG(st.st_mode):
        return _read(p)
    key = (p, st.st_dev, st.st_ino)
    with _STREAMS_LOCK:
        if key not in _STREAMS:
            _STREAMS[key] = _read(p)
        return _STREAMS[key]


def _read(path: str) -> str:
    try:
        return read_text_bounded(path, MAX_FILE_BYTES)
    except InputError as e:
        raise DotenvReadError(str(e)) from None


def load(path: str | Path, environ: Mapping[str, str] | None = None) -> DotenvFile:
    """Parse the .env at ``path``; ``DotenvReadError`` (one line naming the file) when it cannot be read or
    its expansion goes beyond the bounds."""
    text = read_env_text(path)
    try:
        out = parse(text, environ)
    except DotenvLimitError as e:
        raise DotenvLimitError(f"{path}: {e}") from None
    out.path = str(path)
    return out
