"""Secret detection, keyed fingerprints and scrubbing. Every output passes through a Redactor."""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Iterable
from typing import Any

from doctor.config import DEFAULT_SECRET_KEYS

MASK = "***"
_MIN_SECRET_LEN = 4
# credentials embedded in URLs (redis://:pass@host, mysql://user:pass@host)
_URL_CREDS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@", re.I)


_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


class Redactor:
    """Knows the secret values of this run, scrubs them from text, and fingerprints values.

    Fingerprints are HMAC-SHA256 with a per-run key: two fingerprints from the same run are equal
    exactly when the values are, and reveal nothing about the value across runs.
    """

    def __init__(self, secret_keys: Iterable[str] = DEFAULT_SECRET_KEYS, key: bytes | None = None) -> None:
        self.secret_key_patterns = [p.upper() for p in secret_keys]
        self.key = key or secrets.token_bytes(32)
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def is_secret_key(self, name: str) -> bool:
        upper = name.upper()
        return any(fnmatch.fnmatchcase(upper, p) for p in self.secret_key_patterns)

    def add_secret(self, value: str | None) -> None:
        if not value or len(value) < _MIN_SECRET_LEN:
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                # also the base64 payload of APP_KEY style values
                if value.startswith("base64:") and len(value) > 7 + _MIN_SECRET_LEN:
                    self._values.add(value[7:])
                self._pattern = None

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

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._values:
                alts = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in alts))
            return self._pattern

    def scrub(self, text: str) -> str:
        if not text:
            return text
        pat = self._compiled()
        if pat is not None:
            text = pat.sub(MASK, text)
        return _URL_CREDS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)

    def scrub_obj(self, obj: Any, key: str | None = None) -> Any:
        """Deep-scrub JSON-like data; values under secret-looking keys are masked entirely."""
        if isinstance(obj, dict):
            return {k: self.scrub_obj(v, str(k)) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.scrub_obj(v, key) for v in obj]
        if isinstance(obj, str):
            if key is not None and _ENV_NAME.match(key) and self.is_secret_key(key) and obj and not obj.startswith("hmac:"):
                return MASK
            return self.scrub(obj)
        return obj
