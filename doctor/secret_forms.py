"""The forms a secret takes in text, as linear-time patterns, and which secrets are too weak to scrub as text.

A strong secret is found raw, percent-encoded (any safe set, either hex case, ``+`` for a space),
JSON-escaped (``\\"``, ``\\/``, ``\\u00XX``), HTML/XML-escaped (named, decimal and hex entities), any mix
of these, and base64-encoded (standard or URL-safe, padded or not, at each of the three byte alignments
so that it is found inside a longer blob such as a Basic ``user:password`` token).

Every pattern is a sequence of literals and atomic alternations: no nested or unbounded quantifier can
backtrack, so a scan costs O(len(text) x len(secret)) at worst whatever the text.
"""

from __future__ import annotations

import base64
import re

MIN_STRONG_LEN = 6  # shorter values are everywhere in ordinary text
MAX_WORD_LEN = 12  # a plain word up to this long is common text (`production`, `changeme`)
MIN_B64_CORE = 6  # base64 characters fully determined by the secret, below which a match means nothing

_SPECIAL_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "none", "nil", "empty",
                            "undefined", "(true)", "(false)", "(null)", "(empty)"})
_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[A-Za-z]+(?:[-_.][A-Za-z]+)*")
_JSON_SHORT = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
               "\f": "\\f"}
_NAMED_ENTITIES = {"&": ("amp",), "<": ("lt",), ">": ("gt",), '"': ("quot",), "'": ("apos",)}
_URLSAFE = str.maketrans("+/", "-_")
B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")


def is_weak(value: str) -> bool:
    """True when ``value`` cannot be told apart from ordinary text: shorter than 6 characters, a number, a
    boolean or null word, a plain word of at most 12 letters (``prod``, ``production``), no letter or digit
    at all, or fewer than 4 distinct characters. Such a value is masked only where it stands alone."""
    v = value.strip()
    return (len(v) < MIN_STRONG_LEN or v.lower() in _SPECIAL_WORDS or bool(_NUMBER.fullmatch(v))
            or (len(v) <= MAX_WORD_LEN and bool(_WORD.fullmatch(v)))
            or not any(c.isalnum() for c in v) or len(set(v)) < 4)


def _hex(n: int, width: int) -> str:
    """``n`` in hex, either case: 0x2f -> ``2[fF]``."""
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{n:0{width}X}")


def _char(c: str) -> str:
    """Every way one character of a secret is written in text, as an atomic group (encoded forms first)."""
    if c.isascii() and c.isalnum():
        return c
    alts = ["".join("%" + _hex(b, 2) for b in c.encode("utf-8"))]
    units = c.encode("utf-16-be")
    alts.append("".join("\\\\u" + _hex(int.from_bytes(units[i:i + 2], "big"), 4) for i in range(0, len(units), 2)))
    if c in _JSON_SHORT:
        alts.append(re.escape(_JSON_SHORT[c]))
    alts += [f"&{name};" for name in _NAMED_ENTITIES.get(c, ())]
    alts += [f"&#0*{ord(c)};", f"&#[xX]0*{_hex(ord(c), 1)};"]
    if c == " ":
        alts.append(r"\+")
    alts.append(re.escape(c))
    return "(?>" + "|".join(alts) + ")"


def text_pattern(secret: str) -> str:
    """A regex source matching ``secret`` raw or encoded in any mix of the text forms (module docstring).

    The raw literal comes first: an encoded alternative is committed to atomically, so a secret that itself
    contains ``%25`` or ``&amp;`` is still found raw."""
    mixed = "".join(_char(c) for c in secret)
    return re.escape(secret) + "|" + mixed


def base64_cores(secret: str) -> set[str]:
    """The base64 text fully determined by ``secret``'s bytes, at byte offsets 0, 1 and 2 of a blob, in the
    standard and the URL-safe alphabet (a match is widened to its partial neighbours and padding)."""
    data = secret.encode("utf-8")
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        start = -(-8 * offset // 6)  # first 6-bit group that starts at or after the secret's first bit
        end = 8 * (offset + len(data)) // 6  # groups that end at or before its last bit
        core = encoded[start:end]
        if len(core) >= MIN_B64_CORE:
            cores |= {core, core.translate(_URLSAFE)}
    return cores
