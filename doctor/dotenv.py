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

Unlike phpdotenv, a malformed line does not abort: it is recorded in ``errors`` with its line
number (Laravel itself refuses to boot with such a file, which is worth reporting) and parsing
continues. Error reasons never contain the value (it may be a secret).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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
    """The file itself cannot be read (missing, unreadable, not text)."""


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


def _resolve(chars: str, variables: list[int], lookup: Mapping[str, str]) -> str:
    for i in reversed(variables):
        m = _VAR.match(chars, i)
        if m and m.group(1) in lookup:
            chars = chars[:i] + lookup[m.group(1)] + chars[m.end():]
    return chars


# --- file --------------------------------------------------------------------------------------
def parse(text: str, environ: Mapping[str, str] | None = None) -> DotenvFile:
    """Parse .env text. ``environ`` stands for variables already in the process environment
    (they win over the file, as in Laravel's immutable repository); default: none."""
    if text.startswith("\ufeff"):
        text = text[1:]
    env = dict(environ or {})
    out = DotenvFile()
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
        lookup = {**out.values, **env}
        value = _resolve(chars, variables, lookup)
        out.entries.append(DotenvEntry(key, value, no, quote))
        if key in out.values or key in env:
            out.duplicates.append((key, no))
            continue
        out.values[key] = value
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


def load(path: str | Path, environ: Mapping[str, str] | None = None) -> DotenvFile:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DotenvReadError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise DotenvReadError(f"{p}: is a directory") from None
    except UnicodeDecodeError:
        raise DotenvReadError(f"{p}: not UTF-8 text") from None
    except OSError as e:
        raise DotenvReadError(f"{p}: cannot read: {e.strerror or e}") from None
    out = parse(text, environ)
    out.path = str(p)
    return out
