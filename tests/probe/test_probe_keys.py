"""The fingerprint key never travels: the command carries only the doctor's ECDH public key, the probe's
output only its own public key and fingerprints (issue 14 item 8). Real php-cli for the probe's side."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shutil
import string

import pytest

from doctor.probe import KeyExchange, ProbeSpec
from doctor.probe.keys import GX, GY, SPKI_PREFIX, N, _mul, decode_public, derive_key, encode_public

from support.probe import guess_secret, laravel_root, run_probe

WEAK = "abcd"  # 4 characters: 26^4 guesses would find it in seconds if the key were observable
GUESSES = [WEAK, "abce", "password", "secret", "prod", "1234"] + ["".join(secrets.choice(string.ascii_lowercase)
                                                                        for _ in range(4)) for _ in range(200)]


def test_both_sides_derive_the_same_key_and_only_with_a_private_scalar() -> None:
    doctor, probe = KeyExchange(), KeyExchange()
    assert doctor.shared_key(probe.public_b64) == probe.shared_key(doctor.public_b64)
    assert doctor.shared_key(probe.public_b64) != KeyExchange().shared_key(probe.public_b64)
    assert _mul(N, (GX, GY)) is None  # the base point has order N: the curve constants are right


def test_public_keys_that_are_not_p256_points_are_refused() -> None:
    x, y = decode_public(KeyExchange().public_b64)
    off_curve = encode_public((x, (y + 1) % 2**256))
    with pytest.raises(ValueError, match="not on P-256"):
        KeyExchange().shared_key(off_curve)
    with pytest.raises(ValueError):
        KeyExchange().shared_key("AAAA")
    import base64

    compressed = base64.b64encode(SPKI_PREFIX + b"\x02" + bytes(64)).decode()
    with pytest.raises(ValueError, match="uncompressed"):
        KeyExchange().shared_key(compressed)


def test_the_observer_procedure_finds_a_weak_secret_when_the_key_is_in_argv() -> None:
    """The attack the test below runs, against the old design (AME_PROBE_KEY=<hex> in the command): it works."""
    key = secrets.token_bytes(32)
    old_command = f"AME_PROBE_KEY={key.hex()} AME_PROBE_TIMEOUT=3; export AME_PROBE_KEY; ..."
    fp = "hmac:" + hmac.new(key, WEAK.encode(), hashlib.sha256).hexdigest()[:16]
    assert guess_secret(old_command, fp, GUESSES) == WEAK


def test_argv_api_parameters_and_output_hold_nothing_to_recompute_a_fingerprint_from(tmp_path) -> None:
    if not shutil.which("php"):
        pytest.skip("php-cli not installed")
    spec = ProbeSpec(timeout=1, app_root=str(laravel_root(tmp_path)), root_source="workdir", run_as="www-data",
                     queues=["image"])
    r = run_probe(spec, {"DB_PASSWORD": WEAK, "DB_HOST": "db.internal"})
    fp = r.env["fp"]["DB_PASSWORD"]
    assert fp and len(fp) == len("hmac:") + 32
    assert r.matches("DB_PASSWORD", WEAK) is True  # the doctor, holding its private scalar, can
    observed = "\n".join([
        spec.exec_command(),                                                          # ExecuteCommand, CloudTrail
        json.dumps({"containerOverrides": [{"name": "app", "command": spec.task_command()}]}),  # RunTask, DescribeTasks
        spec.shell_script(),                                                          # argv of the local probe
        r.raw_output,  # type: ignore[attr-defined]                                   # session output, task logs
    ])
    assert "AME_PROBE_KEY" not in observed and WEAK not in observed
    assert guess_secret(observed, fp, GUESSES) is None
    # nor does the public key pair give it: the key is derived from the ECDH shared point only
    assert derive_key(decode_public(spec.exchange.public_b64)[0]) != r.fingerprint_key
