"""The playbook front matter: a strict YAML subset, parsed without a dependency.

A playbook file starts with a ``---`` line, then the front matter, then a closing ``---`` line and
the Markdown body. The front matter allows block mappings, block sequences (of scalars or
mappings), ``[a, b]`` flow lists, plain or quoted scalars and ``#`` comment lines; anything else
is a :class:`PlaybookError` naming the file and line. Whatever parses here means the same to a
real YAML parser, so on-call can edit the files as YAML.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from doctor.config import ConfigError

_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*):(?:\s+(.*))?$")
_ITEM_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*:(\s|$)")


class PlaybookError(ConfigError):
    """A malformed playbook file or an unknown playbook id: one clear line naming file and field, exit 2."""


@dataclass
class _Line:
    no: int
    indent: int
    text: str


class _Parser:
    """Block mappings, block sequences (of scalars or mappings), ``[a, b]`` flow lists, plain or
    quoted scalars, ``#`` comment lines. Anything else is an error with its line number. Records
    the line of every value path (``causes[1].confirm[0]``) for validation messages."""

    def __init__(self, path: str, lines: list[tuple[int, str]]) -> None:
        self.path = path
        self.lines: list[_Line] = []
        for no, raw in lines:
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            if "\t" in raw[: len(raw) - len(raw.lstrip())]:
                self.fail(no, "tabs are not allowed for indentation")
            stripped = raw.rstrip()
            self.lines.append(_Line(no, len(stripped) - len(stripped.lstrip(" ")), stripped.lstrip(" ")))
        self.i = 0
        self.where: dict[str, int] = {}

    def fail(self, no: int, msg: str) -> None:
        raise PlaybookError(f"{self.path}:{no}: {msg}")

    def parse(self) -> Any:
        if not self.lines:
            return {}
        first = self.lines[0]
        if first.indent != 0:
            self.fail(first.no, "front matter must start at column 0")
        value = self.block(0, "")
        if self.i < len(self.lines):
            ln = self.lines[self.i]
            self.fail(ln.no, f"unexpected indentation or content: {ln.text!r}")
        return value

    def block(self, indent: int, path: str) -> Any:
        ln = self.lines[self.i]
        if ln.text == "-" or ln.text.startswith("- "):
            return self.sequence(indent, path)
        return self.mapping(indent, path)

    def mapping(self, indent: int, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while self.i < len(self.lines):
            ln = self.lines[self.i]
            if ln.indent < indent:
                break
            if ln.indent > indent:
                self.fail(ln.no, f"unexpected indentation: {ln.text!r}")
            m = _KEY.match(ln.text)
            if not m:
                self.fail(ln.no, f"expected 'key: value', got {ln.text!r}")
                raise AssertionError  # unreachable
            key, rest = m.group(1), (m.group(2) or "").strip()
            if key in out:
                self.fail(ln.no, f"duplicate key {key!r}")
            sub = f"{path}.{key}" if path else key
            self.where[sub] = ln.no
            self.i += 1
            if rest and not rest.startswith("#"):
                out[key] = self.inline(rest, ln.no, sub)
            elif self.i < len(self.lines) and self.lines[self.i].indent > indent:
                out[key] = self.block(self.lines[self.i].indent, sub)
            elif (self.i < len(self.lines) and self.lines[self.i].indent == indent
                  and self.lines[self.i].text.startswith("- ")):
                out[key] = self.sequence(indent, sub)  # YAML allows a sequence at the key's indent
            else:
                out[key] = None
        return out

    def sequence(self, indent: int, path: str) -> list[Any]:
        out: list[Any] = []
        while self.i < len(self.lines):
            ln = self.lines[self.i]
            if ln.indent < indent or not (ln.text == "-" or ln.text.startswith("- ")):
                if ln.indent > indent:
                    self.fail(ln.no, f"unexpected indentation: {ln.text!r}")
                break
            if ln.indent > indent:
                self.fail(ln.no, f"unexpected indentation: {ln.text!r}")
            sub = f"{path}[{len(out)}]"
            self.where[sub] = ln.no
            rest = ln.text[1:].strip()
            if not rest:
                self.fail(ln.no, "empty list item")
            if _ITEM_KEY.match(rest):
                # a mapping item: rewrite this line as the mapping's first key, at the item's column
                self.lines[self.i] = _Line(ln.no, ln.indent + (len(ln.text) - len(rest)), rest)
                out.append(self.mapping(self.lines[self.i].indent, sub))
            else:
                self.i += 1
                out.append(self.inline(rest, ln.no, sub))
        return out

    def inline(self, text: str, no: int, path: str) -> Any:
        if text.startswith("["):
            if not text.endswith("]"):
                self.fail(no, "a flow list must close with ']' on the same line")
            body = text[1:-1].strip()
            if not body:
                return []
            items = []
            for n, part in enumerate(_split_flow(body)):
                self.where[f"{path}[{n}]"] = no
                items.append(self.scalar(part.strip(), no))
            return items
        if text.startswith("{"):
            self.fail(no, "flow mappings are not supported; quote the value if it starts with '{'")
        return self.scalar(text, no)

    def scalar(self, text: str, no: int) -> str:
        if not text:
            self.fail(no, "empty value")
        if text[0] in "\"'":
            q = text[0]
            end = len(text) - 1
            if len(text) < 2 or text[end] != q:
                self.fail(no, f"unterminated quoted string: {text!r}")
            body = text[1:end]
            if q == "'":
                return body.replace("''", "'")
            try:
                return str(json.loads('"' + body + '"'))
            except json.JSONDecodeError:
                self.fail(no, f"invalid escape in quoted string: {text!r}")
        if text[0] in "&*!|>%@`[]{}" or text.startswith(("- ", "? ")):
            self.fail(no, f"value {text!r} must be quoted (it starts with a YAML indicator)")
        if ": " in text or " #" in text:
            self.fail(no, f"value {text!r} must be quoted (it contains ': ' or ' #')")
        return text


def _split_flow(body: str) -> list[str]:
    """The items of a flow list's body, split at commas outside quotes (quotes kept)."""
    parts, cur, quote = [], "", ""
    for ch in body:
        if quote:
            cur += ch
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            cur += ch
        elif ch == ",":
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def split_front_matter(path: str, text: str) -> tuple[list[tuple[int, str]], str]:
    """(front matter lines with their 1-based numbers, Markdown body)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise PlaybookError(f"{path}:1: a playbook must start with a '---' front matter block")
    for n in range(1, len(lines)):
        if lines[n].strip() == "---":
            return [(i + 1, lines[i]) for i in range(1, n)], "\n".join(lines[n + 1:]).strip() + "\n"
    raise PlaybookError(f"{path}: front matter is not closed with '---'")


def parse_front_matter(path: str, text: str) -> tuple[Any, dict[str, int], str]:
    """(parsed front matter, the line of every value path such as ``causes[1].confirm[0]``, Markdown body)."""
    fm, body = split_front_matter(path, text)
    p = _Parser(path, fm)
    return p.parse(), p.where, body
