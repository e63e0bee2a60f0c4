"""Redaction: secrets are scrubbed from text in every form they take, from data by field (JSON syntax is never
rewritten), before any cut; weak secrets only where they stand alone; fingerprints compare without revealing;
every pattern stays linear on hostile input."""

from __future__ import annotations

import base64
import json

import pytest

from doctor.redact import MASK, Redactor, clip
from doctor.secret_forms import is_weak

from support.secret_forms import planted_forms

SECRETS = ["Pl4nt/ed+pw@host:5%!&*x", "p@ss:w/rd+100%&!*Z", "Pl4nted%41raw/percent+pw", "Ünïcode-pässwörd-9"]


def test_registered_secret_is_scrubbed_everywhere_in_text() -> None:
    r = Redactor()
    r.add_secret("Tr0ub4dor&3")
    assert r.scrub("login failed for pw Tr0ub4dor&3 (Tr0ub4dor&3)") == f"login failed for pw {MASK} ({MASK})"


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("form", sorted(planted_forms(SECRETS[0])))
def test_every_form_of_a_secret_is_scrubbed(secret: str, form: str) -> None:
    text, marker = planted_forms(secret)[form]
    r = Redactor()
    r.add_secret(secret)
    out = r.scrub(f"connect failed [{text}] retrying")
    assert marker not in out and secret[:6] not in out, out
    assert out.startswith("connect failed [") and out.endswith("] retrying")


def test_base64_inside_a_longer_blob_is_masked_and_only_there() -> None:
    secret = "Pl4nt/ed+pw@host:5%!&*x"
    r = Redactor()
    r.add_secret(secret)
    for head in (b"", b"u", b"us", b"user:"):
        blob = base64.b64encode(head + secret.encode() + b"|rest-of-the-payload").decode()
        out = r.scrub(f"Authorization: Basic {blob}")
        left, _, right = out.removeprefix("Authorization: Basic ").partition(MASK)
        assert MASK in out and len(left) <= len(head) * 4 // 3 + 1 and blob.endswith(right)
        for i in range(len(left) // 4 * 4 + 4, len(blob) - len(right) - 3, 4):  # no whole group of it is left
            assert blob[i:i + 4] not in out
        assert len(right) >= 20  # the unrelated rest of the blob stays


def test_two_secrets_written_back_to_back_leave_nothing_of_either() -> None:
    r = Redactor()
    r.add_secret("abc123-first")
    r.add_secret("first-second-456")
    assert r.scrub("x abc123-first-second-456 y") == f"x {MASK} y"


def test_a_secret_that_contains_an_escape_sequence_is_found_raw_and_encoded() -> None:
    r = Redactor()
    r.add_secret("pw%2F&amp;-lit3ral")
    assert r.scrub("a pw%2F&amp;-lit3ral b") == f"a {MASK} b"
    assert r.scrub("a pw%252F%26amp%3B-lit3ral b") == f"a {MASK} b"


def test_app_key_payload_is_also_scrubbed() -> None:
    payload = base64.b64encode(b"K" * 32).decode()
    r = Redactor()
    r.add_secret("base64:" + payload)
    assert payload not in r.scrub(f"decoded {payload}")


def test_url_credentials_and_secret_parameters_are_scrubbed_without_registration() -> None:
    r = Redactor()
    out = r.scrub("redis://:s3cr3t@cache:6379/0 mysql://ame:p4ss@db:3306/ame rediss://u:p@ss@h:6380")
    assert "s3cr3t" not in out and "p4ss" not in out and "ss@h" not in out
    assert "cache:6379" in out and "mysql://ame:" in out and "@h:6380" in out
    out = r.scrub("tls://cache:6380?password=hunter22&db=2 /cb?a=1&auth=xyz987;token=tk-55 DB_PASSWORD=pw9 page=3")
    assert out == f"tls://cache:6380?password={MASK}&db=2 /cb?a=1&auth={MASK};token={MASK} DB_PASSWORD={MASK} page=3"


def test_weak_secrets_are_masked_only_where_they_stand_alone() -> None:
    r = Redactor()
    for weak in ("prod", "true", "1234"):
        r.add_secret(weak)
    text = "cluster propertyfeedtemplate-production, path /ame/prod/DB_HOST, pw=prod, (true) port 12345 x 1234"
    assert r.scrub(text) == ("cluster propertyfeedtemplate-production, path /ame/prod/DB_HOST, "
                             f"pw={MASK}, ({MASK}) port 12345 x {MASK}")


def test_structured_values_are_redacted_by_field_and_json_stays_json() -> None:
    r = Redactor()
    r.add_secret("true")
    r.add_secret("pass")
    report = {"checks": [{"id": "reach.redis", "status": "pass", "summary": "pass", "findings": [{
        "severity": "warning", "signals": ["reach.redis_ok"], "title": "cache in propertyfeedtemplate-passive",
        "evidence": {"redis_host_matches_ssm": True, "flag": "true", "status": "pass", "ports": [6379]}}]}]}
    out = json.loads(r.scrub_output(json.dumps(report, indent=2), "json"))
    check = out["checks"][0]
    assert check["status"] == "pass" and check["summary"] == MASK  # enum kept, free text masked
    evidence = check["findings"][0]["evidence"]
    assert evidence == {"redis_host_matches_ssm": True, "flag": MASK, "status": MASK, "ports": [6379]}
    assert check["findings"][0]["title"] == "cache in propertyfeedtemplate-passive"
    unchanged = json.dumps({"a": True, "b": "nothing secret"}, indent=2)
    assert r.scrub_output(unchanged, "json") == unchanged  # formatting kept when nothing changes
    assert r.scrub_output("ok: true, pass 3", "text") == "ok: true, pass 3"  # rendered words are the model's


def test_a_report_stays_readable_whatever_weak_secret_equals_its_enum_values() -> None:
    from doctor.model import CheckResult, CheckStatus, Finding, Report, RunInfo, Severity, Target, ToolInfo

    finding = Finding(uid="reach.redis:timeout:cache", severity=Severity.warning, title="timeout on cache",
                      evidence={"outcome": "warning"}, signals=["reach.redis_timeout"])
    report = Report(tool=ToolInfo(version="1"), run=RunInfo(id="r1", started_at="2026-01-01T00:00:00+00:00"),
                    target=Target(cluster="propertyfeedtemplate-production"),
                    checks=[CheckResult(id="reach.redis", title="Redis", order=4, status=CheckStatus.warn,
                                        summary="warn", findings=[finding])])
    r = Redactor()
    for weak in ("warn", "warning", "unknown", "cache"):
        r.add_secret(weak)
    back = Report.model_validate_json(r.scrub_output(report.to_json(), "json"))
    check = back.checks[0]
    assert (back.status, check.status, check.findings[0].severity) == (report.status, "warn", "warning")
    assert check.summary == MASK and check.findings[0].evidence == {"outcome": MASK}
    assert check.findings[0].title == f"timeout on {MASK}" and back.target.cluster == report.target.cluster


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


def test_clip_scrubs_before_it_cuts() -> None:
    secret = "Cl1pped/secret+value!"
    r = Redactor()
    r.add_secret(secret)
    line = "x" * 290 + secret + " and the rest of a long line " * 3
    head = clip(line, 300, marker="...")
    assert secret[:4] not in head and head.endswith("..."), head
    tail = clip(secret + "y" * 300, 300, keep_end=True)
    assert secret[-4:] not in tail and len(tail) <= 300
    assert clip("short", 300) == "short"


@pytest.mark.parametrize("value,weak", [
    ("true", True), ("prod", True), ("1234", True), ("12345678901", True), ("production", True),
    ("changeme", True), ("----------", True), ("abababab", True), ("(null)", True), ("Tr0ub4dor&3", False),
    ("administrators", False), ("prod-2024-x", False), ("s3cret-db-password", False), ("hunter22", False),
])
def test_weak_secrets_are_short_numeric_boolean_or_plain_words(value: str, weak: bool) -> None:
    assert is_weak(value) is weak


def test_hostile_inputs_are_scrubbed_correctly_at_a_megabyte() -> None:
    """Each of these took quadratic time in the old URL pattern (a 50 KB run of letters: 18 s); correctness at
    1 MB is the guard (tests never time)."""
    r = Redactor()
    r.add_secret("Pl4nt/ed+pw@host:5%!&*x")
    r.add_secret("prod")
    n = 1_000_000
    for text in ("a" * n, "a://" + "b" * n, ("a://b:" * n)[:n], "x://u:" + "p" * n, ("%2F" * n)[:n],
                 ("?password" * n)[:n], ("&#x2F;" * n)[:n], ("Pl4nt/ed+pw@host:5%!&*" * n)[:n]):
        assert r.scrub(text) == text
    secret_run = "Pl4nt/ed+pw@host:5%!&*x" * (n // 23)
    assert r.scrub(secret_run) == MASK
    env_value = "FEED_URL=" + "a" * 50_000 + "redis://:Pl4nt%2Fed%2Bpw%40host%3A5%25%21%26%2Ax@cache" + "b" * 50_000
    assert r.scrub(env_value) == "FEED_URL=" + "a" * 50_000 + "redis://:***@cache" + "b" * 50_000


def test_fingerprint_value_under_secret_key_is_kept() -> None:
    r = Redactor()
    fp = r.fingerprint("pw")
    assert r.scrub_obj({"DB_PASSWORD": fp}) == {"DB_PASSWORD": fp}


def test_custom_secret_patterns() -> None:
    r = Redactor(["*CREDENTIAL*"])
    assert r.is_secret_key("db_credential_x") and not r.is_secret_key("DB_PASSWORD")
    r.add_mapping({"MY_CREDENTIAL": "cred-value-1", "PLAIN": "plain-value-2"}, secure_keys=["PLAIN"])
    assert r.scrub("cred-value-1 plain-value-2") == f"{MASK} {MASK}"


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
