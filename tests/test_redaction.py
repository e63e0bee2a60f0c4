"""Redaction: secret values are scrubbed from text and nested data; fingerprints compare without revealing."""

from __future__ import annotations

import base64

from doctor.redact import MASK, Redactor


def test_registered_secret_is_scrubbed_everywhere_in_text() -> None:
    r = Redactor()
    r.add_secret("Tr0ub4dor&3")
    assert r.scrub("login failed for pw Tr0ub4dor&3 (Tr0ub4dor&3)") == f"login failed for pw {MASK} ({MASK})"


def test_longest_secret_wins_and_short_values_are_ignored() -> None:
    r = Redactor()
    r.add_secret("abcd")
    r.add_secret("abcdefgh")
    r.add_secret("ab")  # too short to scrub safely (would eat ordinary text)
    assert r.scrub("x abcdefgh y abcd z ab") == f"x {MASK} y {MASK} z ab"


def test_app_key_payload_is_also_scrubbed() -> None:
    payload = base64.b64encode(b"K" * 32).decode()
    r = Redactor()
    r.add_secret("base64:" + payload)
    assert payload not in r.scrub(f"decoded {payload}")


def test_url_credentials_are_scrubbed_without_registration() -> None:
    r = Redactor()
    out = r.scrub("redis://:s3cr3t@cache:6379/0 mysql://ame:p4ss@db:3306/ame")
    assert "s3cr3t" not in out and "p4ss" not in out
    assert "cache:6379" in out and "ame:" in out


def test_secret_keys_mask_nested_values() -> None:
    r = Redactor()
    data = {"evidence": {"DB_PASSWORD": "plain-text-pw", "REDIS_HOST": "cache.internal",
                         "values": [{"APP_KEY": "base64:xyz"}], "AWS_SECRET_ACCESS_KEY": "AKIA-secret",
                         "API_TOKEN": "tok-123", "fp": "hmac:0123"},
            "count": 3}
    out = r.scrub_obj(data)
    assert out["evidence"]["DB_PASSWORD"] == MASK
    assert out["evidence"]["values"][0]["APP_KEY"] == MASK
    assert out["evidence"]["AWS_SECRET_ACCESS_KEY"] == MASK
    assert out["evidence"]["API_TOKEN"] == MASK
    assert out["evidence"]["REDIS_HOST"] == "cache.internal"  # not a secret
    assert out["evidence"]["fp"] == "hmac:0123" and out["count"] == 3


def test_fingerprint_value_under_secret_key_is_kept() -> None:
    r = Redactor()
    fp = r.fingerprint("pw")
    assert r.scrub_obj({"DB_PASSWORD": fp}) == {"DB_PASSWORD": fp}


def test_custom_secret_patterns() -> None:
    r = Redactor(["*CREDENTIAL*"])
    assert r.is_secret_key("db_credential_x") and not r.is_secret_key("DB_PASSWORD")
    r.add_mapping({"MY_CREDENTIAL": "cred-value-1", "PLAIN": "plain-value"}, secure_keys=["PLAIN"])
    assert r.scrub("cred-value-1 plain-value") == f"{MASK} {MASK}"


def test_add_mapping_registers_only_secrets() -> None:
    r = Redactor()
    r.add_mapping({"DB_PASSWORD": "pw-value-9", "DB_HOST": "db.internal"})
    assert r.scrub("pw-value-9 db.internal") == f"{MASK} db.internal"


def test_fingerprints_are_keyed_and_compare_equal_values() -> None:
    a, b = Redactor(key=b"k" * 32), Redactor(key=b"j" * 32)
    assert a.fingerprint("same") == a.fingerprint("same")
    assert a.fingerprint("same") != a.fingerprint("other")
    assert a.fingerprint("same") != b.fingerprint("same")  # per-run key: nothing to correlate across runs
    fp = a.fingerprint("value")
    assert fp is not None and fp.startswith("hmac:") and "value" not in fp
    assert a.fingerprint(None) is None
    assert Redactor().fingerprint("x") != Redactor().fingerprint("x")  # random key by default
