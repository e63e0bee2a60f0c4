"""Every form a planted secret can take in what a target shows the doctor, and how to search outputs for it.

``planted_forms(secret)`` gives, per form, the text a target would carry (a log line fragment, a URL, a
base64 blob) and the marker whose presence anywhere in an output is a leak. ``leaks(texts, secrets)``
searches outputs as written and decoded (JSON string values, XML/HTML entities) for every marker.
"""

from __future__ import annotations

import base64
import html
import json
import re
from urllib.parse import quote, quote_plus


def _lower_hex(encoded: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), encoded)


def _b64_core(data: bytes, offset: int, urlsafe: bool = False) -> str:
    """The base64 characters fully determined by ``data`` placed at byte ``offset`` of a blob."""
    encoded = base64.b64encode(b"\0" * offset + data).decode()
    core = encoded[-(-8 * offset // 6): 8 * (offset + len(data)) // 6]
    return core.translate(str.maketrans("+/", "-_")) if urlsafe else core


def planted_forms(secret: str) -> dict[str, tuple[str, str]]:
    """form name -> (text carrying ``secret`` in that form, the marker that betrays it in an output)."""
    data = secret.encode()
    q = quote(secret, safe="")
    b64 = base64.b64encode(data).decode()
    b64url = base64.urlsafe_b64encode(data).decode()
    json_escaped = json.dumps(secret)[1:-1]
    forms = {
        "raw": (secret, secret),
        "url-encoded": (q, q),
        "url-encoded-lower-hex": (_lower_hex(q), _lower_hex(q)),
        "url-encoded-plus": (quote_plus(secret, safe=""), quote_plus(secret, safe="")),
        "url-encoded-path": (quote(secret), quote(secret)),
        "url-encoded-js": (quote(secret, safe="!*'()~"), quote(secret, safe="!*'()~")),
        "base64": (b64, b64.rstrip("=")),
        "base64-unpadded": (b64.rstrip("="), b64.rstrip("=")),
        "base64-urlsafe": (b64url, b64url.rstrip("=")),
        "base64-urlsafe-unpadded": (b64url.rstrip("="), b64url.rstrip("=")),
        "json-escaped": (json_escaped, json_escaped),
        "json-escaped-slashes": (json_escaped.replace("/", "\\/"), json_escaped.replace("/", "\\/")),
        "html-escaped": (html.escape(secret), html.escape(secret)),
        "xml-escaped": (secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                        .replace('"', "&quot;").replace("'", "&apos;"),) * 2,
        "url-userinfo": (f"redis://app:{q}@cache.internal:6379/0", q),
        "url-userinfo-raw": (f"mysql://app:{secret}@db.internal:3306/app", secret),
        "query-password": (f"tls://cache.internal:6380?password={q}&timeout=5", q),
        "query-token": (f"https://api.internal/v1/feeds?limit=5&token={q}", q),
    }
    for offset, prefix in ((1, b"u"), (2, b"us")):  # inside a longer blob (a Basic user:password token)
        blob = prefix + data + b"-tail"
        forms[f"base64-in-blob-offset{offset}"] = (base64.b64encode(blob).decode(), _b64_core(data, offset))
        forms[f"base64-urlsafe-in-blob-offset{offset}"] = (base64.urlsafe_b64encode(blob).decode(),
                                                           _b64_core(data, offset, urlsafe=True))
    forms["base64-basic-auth"] = ("Basic " + base64.b64encode(b"app:" + data).decode(), _b64_core(data, 4 % 3))
    return forms


def decoded_views(text: str) -> list[str]:
    """``text`` as written, with HTML/XML entities decoded, and (when it is JSON) its string values."""
    views = [text, html.unescape(text)]
    try:
        data = json.loads(text)
    except ValueError:
        return views
    strings: list[str] = []

    def walk(v: object) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                strings.append(str(k))
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            strings.append(v)

    walk(data)
    views.append("\n".join(strings))
    return views


def leaks(outputs: dict[str, str], secrets: dict[str, str], prefix_len: int = 8) -> list[tuple[str, str, str]]:
    """(where, secret label, form) for every marker of every secret found in an output, in any view;
    the form ``prefix`` is the secret's first ``prefix_len`` characters (a value cut before scrubbing)."""
    found = []
    for where, text in outputs.items():
        views = decoded_views(text)
        for label, secret in secrets.items():
            markers = {form: marker for form, (_, marker) in planted_forms(secret).items()}
            markers["prefix"] = secret[:prefix_len]
            found += [(where, label, form) for form, marker in markers.items() if any(marker in v for v in views)]
    return found
