"""Secret detection, keyed fingerprints and scrubbing. Every output passes through a Redactor.

Three entry points, by what is being scrubbed:

- ``scrub(text)`` — free text (an error message, a log line): every form of every strong secret
  (:mod:`doctor.secret_forms`), URL userinfo passwords, secret-looking query/``KEY=value`` parameters, and
  weak secrets where they stand alone as a token.
- ``scrub_obj(data)`` — JSON-like data, by field: strings only (JSON syntax is never rewritten), values
  under secret-looking keys masked whole, enum-like fields of the report model spared the weak rules.
- ``scrub_output(text, fmt)`` — a rendered document: JSON field by field (it always parses afterwards);
  other formats as text, without the weak rules (``true`` in a rendered table is the model's, not a secret).

A weak secret (too short or too common, :func:`doctor.secret_forms.is_weak`) is never pattern-replaced
inside other words (``prod`` in ``propertyfeedtemplate-production``): it is masked only as a whole value or
a standalone token, and the checks report it as a weak-secret finding. :func:`clip` cuts text only after
scrubbing it, so a value cut at a length limit never ends in part of a secret.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import re
import secrets
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, get_args

from doctor.config import DEFAULT_SECRET_KEYS
from doctor.secret_forms import B64_CHARS, base64_cores, is_weak, text_pattern

MASK = "***"

# credentials in URLs (redis://:pass@host, mysql://user:pass@host): the scheme may not start inside a longer
# word (so a long run of letters is scanned once, not once per letter), the password runs to the last '@'
# before a '/', whitespace or a quote (an unencoded '@' in a password is masked too)
_URL_CREDS = re.compile(r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s:/@\"'<>\\]{0,256}+:)"
                        r"[^\s/\"'<>\\]+@")
# NAME=value in a query string or free text (?password=..., &auth=..., DB_PASSWORD=...)
_PARAM = re.compile(r"(?<![A-Za-z0-9_.\[\]-])([A-Za-z][A-Za-z0-9_.\[\]-]{0,63})=([^\s&#;\"'<>\\]*+)")
_SECRET_PARAMS = frozenset({"password", "passwd", "pass", "pwd", "auth", "authorization", "token", "secret",
                            "key", "apikey", "api_key", "access_token", "refresh_token", "client_secret",
                            "signature", "sig", "credential", "credentials", "session", "sessionid",
                            "x-amz-signature", "x-amz-credential", "x-amz-security-token"})
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_TOKEN_CHARS = r"A-Za-z0-9_.\-/+"  # a weak secret next to one of these is part of a longer word or path
# identifiers in the report model (check, playbook and cause ids, signals), spared the weak rules like its
# enum fields (see _structural): a weak secret `pass` must not turn `"status": "pass"` into an unreadable report
_IDENTIFIERS = frozenset({"id", "signals", "verdict", "playbook", "cause"})
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"')

_LIVE: weakref.WeakSet[Redactor] = weakref.WeakSet()  # every redactor of this process, for clip()
_LIVE_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Patterns:
    strong: re.Pattern[str] | None  # every form of every strong secret; group "b64" for base64 cores
    weak_token: re.Pattern[str] | None  # weak secrets standing alone
    weak: frozenset[str]


class Redactor:
    """Knows the secret values of this run, scrubs them from text and data, and fingerprints values.

    Fingerprints are HMAC-SHA256 with a per-run key: two fingerprints from the same run are equal
    exactly when the values are, and reveal nothing about the value across runs.
    """

    def __init__(self, secret_keys: Iterable[str] = DEFAULT_SECRET_KEYS, key: bytes | None = None) -> None:
        self.secret_key_patterns = [p.upper() for p in secret_keys]
        self.key = key or secrets.token_bytes(32)
        self._strong: set[str] = set()
        self._weak: set[str] = set()
        self._patterns: _Patterns | None = None
        self._lock = threading.Lock()
        with _LIVE_LOCK:
            _LIVE.add(self)

    def is_secret_key(self, name: str) -> bool:
        upper = name.upper()
        return any(fnmatch.fnmatchcase(upper, p) for p in self.secret_key_patterns)

    def add_secret(self, value: str | None) -> None:
        """Register a secret value: strong ones are scrubbed in every form, weak ones where they stand alone."""
        if not value or not value.strip():
            return
        with self._lock:
            if value in self._strong or value in self._weak:
                return
            (self._weak if is_weak(value) else self._strong).add(value)
            # also the base64 payload of APP_KEY style values
            if value.startswith("base64:") and not is_weak(value[7:]):
                self._strong.add(value[7:])
            self._patterns = None

    def add_mapping(self, values: dict[str, str], secure_keys: Iterable[str] = ()) -> None:
        """Register the values of secret-looking keys (and of keys known to be SecureString)."""
        secure = set(secure_keys)
        for k, v in values.items():
            if k in secure or self.is_secret_key(k):
                self.add_secret(v)

    def fingerprint(self, value: str | None) -> str | None:
        if value is None:
            return None
        digest = hmac.new(self.key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return "hmac:" + digest[:16]

    def _compiled(self) -> _Patterns:
        with self._lock:
            if self._patterns is None:
                self._patterns = _compile(self._strong, self._weak)
            return self._patterns

    # --- text ---------------------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """Free text: strong secrets in every form, URL and parameter credentials, standalone weak secrets."""
        return self._scrub_text(text, weak=True)

    def _scrub_text(self, text: str, weak: bool) -> str:
        if not text:
            return text
        pats = self._compiled()
        if pats.strong is not None:
            text = _mask_spans(text, _strong_spans(pats.strong, text))
        text = _URL_CREDS.sub(_mask_url_password, text)
        text = _PARAM.sub(lambda m: self._mask_param(m), text)
        if weak and pats.weak_token is not None:
            text = pats.weak_token.sub(MASK, text)
        return text

    def _mask_param(self, m: re.Match[str]) -> str:
        name, value = m.group(1), m.group(2)
        if value and not value.startswith(MASK) and (name.lower() in _SECRET_PARAMS or self.is_secret_key(name)):
            return f"{name}={MASK}"
        return m.group()

    # --- data ---------------------------------------------------------------------------------------
    def scrub_obj(self, obj: Any, key: str | None = None) -> Any:
        """Deep-scrub JSON-like data by field: only strings change (never JSON syntax); values under
        secret-looking keys are masked entirely; a weak secret is masked as a whole value or token."""
        return self._walk(obj, key, in_evidence=False)

    def _walk(self, obj: Any, key: str | None, in_evidence: bool) -> Any:
        if isinstance(obj, dict):
            return {k: self._walk(v, str(k), in_evidence or k == "evidence") for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self._walk(v, key, in_evidence) for v in obj]
        if isinstance(obj, str):
            return self._scrub_value(obj, key, structural=not in_evidence and key in _structural())
        return obj

    def _scrub_value(self, value: str, key: str | None, structural: bool) -> str:
        if key is not None and _ENV_NAME.match(key) and self.is_secret_key(key) and value \
                and not value.startswith("hmac:"):
            return MASK
        if not structural and value in self._compiled().weak:
            return MASK
        return self._scrub_text(value, weak=not structural)

    # --- rendered documents -------------------------------------------------------------------------
    def scrub_output(self, text: str, fmt: str) -> str:
        """A rendered document on its way out: JSON by field (it still parses, booleans stay booleans);
        any other format as text without the weak rules (the rendered model was scrubbed by field)."""
        if fmt == "json":
            try:
                data = json.loads(text)
            except ValueError:  # not one JSON document (never from our renderers): scrub its strings in place
                return _JSON_STRING.sub(lambda m: json.dumps(self.scrub(json.loads(m.group())), ensure_ascii=False),
                                        text)
            clean = self.scrub_obj(data)
            if clean == data:
                return text
            return json.dumps(clean, indent=2, ensure_ascii=False) + ("\n" if text.endswith("\n") else "")
        return self._scrub_text(text, weak=False)


@cache
def _structural() -> frozenset[str]:
    """Field names the report model gives enum values (status, severity, state, kind...), and its identifiers."""
    from pydantic import BaseModel

    from doctor import model

    names = set(_IDENTIFIERS)
    for cls in vars(model).values():
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            for name, f in cls.model_fields.items():
                if any(isinstance(t, type) and issubclass(t, Enum) for t in (get_args(f.annotation) or (f.annotation,))):
                    names.add(f.alias or name)
    return frozenset(names)


def clip(text: str, limit: int, *, keep_end: bool = False, marker: str = "") -> str:
    """``text`` cut to ``limit`` characters (the last ones with ``keep_end``), ``marker`` added where it
    was cut — scrubbed first by every redactor of this process, so a cut never leaves part of a secret."""
    if len(text) <= limit:
        return text
    with _LIVE_LOCK:
        live = list(_LIVE)
    for redactor in live:
        text = redactor.scrub(text)
    if len(text) <= limit:
        return text
    return marker + text[-limit:] if keep_end else text[:limit] + marker


def _compile(strong: set[str], weak: set[str]) -> _Patterns:
    strong_pat = None
    if strong:
        ordered = sorted(strong, key=len, reverse=True)  # the longest secret wins where two start together
        cores = sorted({c for s in ordered for c in base64_cores(s)}, key=len, reverse=True)
        alts = [text_pattern(s) for s in ordered]
        if cores:
            alts.append("(?P<b64>" + "|".join(re.escape(c) for c in cores) + ")")
        strong_pat = re.compile("|".join(alts))
    tokens = sorted((w.strip() for w in weak if any(c.isalnum() for c in w)), key=len, reverse=True)
    weak_pat = None
    if tokens:
        weak_pat = re.compile(f"(?<![{_TOKEN_CHARS}])(?:" + "|".join(re.escape(t) for t in tokens)
                              + f")(?![{_TOKEN_CHARS}])")
    return _Patterns(strong_pat, weak_pat, frozenset(weak) | frozenset(w.strip() for w in weak))


def _strong_spans(pat: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    """Where strong secrets are in ``text``, overlapping matches merged (two secrets written back to back
    leave nothing of either), base64 matches widened to their partial neighbours and padding."""
    spans: list[tuple[int, int]] = []
    m = pat.search(text)
    while m is not None:
        start, end = _widened(m, text)
        nxt = pat.search(text, m.start() + 1)
        while nxt is not None and nxt.start() < end:  # starts inside this one: may run past its end
            end = max(end, _widened(nxt, text)[1])
            nxt = pat.search(text, nxt.start() + 1)
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
        m = nxt
    return spans


def _widened(m: re.Match[str], text: str) -> tuple[int, int]:
    start, end = m.span()
    if m.group("b64") is None:
        return start, end
    if start > 0 and text[start - 1] in B64_CHARS:
        start -= 1
    if end < len(text) and text[end] in B64_CHARS:
        end += 1
    while end < len(text) and text[end] == "=" and end - m.end() < 3:
        end += 1
    return start, end


def _mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], MASK]
        last = end
    out.append(text[last:])
    return "".join(out)


def _mask_url_password(m: re.Match[str]) -> str:
    return f"{m.group(1)}{MASK}@"
