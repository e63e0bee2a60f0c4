"""The probe's fingerprint key, agreed by an ephemeral elliptic-curve Diffie-Hellman exchange, so that no
key material travels in the probe's command (argv, ExecuteCommand / RunTask parameters, CloudTrail,
DescribeTasks) or in its output.

The doctor draws a private scalar ``a`` and puts only its public key ``A = a·G`` in the command (NIST
P-256, as a base64 SubjectPublicKeyInfo). The php probe makes its own key pair with openssl (the
extension Laravel requires), derives ``z = x(b·A)`` with ``openssl_pkey_derive``, prints its public key
``B`` on its start line and fingerprints values with HMAC-SHA256 keyed by ``SHA-256(LABEL || z)``. The
doctor computes the same ``z = x(a·B)``. An observer of the command and of the probe's output sees A, B
and fingerprints: recomputing a fingerprint, or testing a guessed secret against one, needs ``z`` (the
computational Diffie-Hellman problem on P-256), so even a short secret cannot be brute-forced offline.
Every probe run makes its own ``b``: the same value fingerprints differently in two tasks and two runs.

P-256 rather than a finite-field group (e.g. RFC 3526 group 14): the probe command has a size budget
(RunTask overrides: 8192 characters), and a 2048-bit group costs ~900 characters in it (its prime in the
php source plus a 344-character public value) where P-256 costs 124. The curve arithmetic below is the
textbook affine double-and-add; it only ever runs on the doctor's host with a one-run scalar.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from functools import cached_property

# NIST P-256 (SEC 2 secp256r1): y^2 = x^3 - 3x + B over GF(P), base point (GX, GY) of prime order N
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5
# DER SubjectPublicKeyInfo header of an uncompressed P-256 point (id-ecPublicKey, prime256v1)
SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")
LABEL = b"ame-doctor probe fingerprint v1\x00"
FINGERPRINT_HEX = 32  # 128 bits

Point = tuple[int, int] | None  # None: the point at infinity


def _add(p1: Point, p2: Point) -> Point:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        slope = (3 * x1 * x1 - 3) * pow(2 * y1, -1, P) % P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (slope * slope - x1 - x2) % P
    return x3, (slope * (x1 - x3) - y1) % P


def _mul(k: int, point: Point) -> Point:
    out: Point = None
    while k:
        if k & 1:
            out = _add(out, point)
        point = _add(point, point)
        k >>= 1
    return out


def _on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x - 3 * x + B)) % P == 0


def encode_public(point: tuple[int, int]) -> str:
    return base64.b64encode(SPKI_PREFIX + b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")).decode()


def decode_public(b64: str) -> tuple[int, int]:
    """A P-256 public key from its base64 SubjectPublicKeyInfo; rejects anything not a point of the curve
    (an invalid-curve point could leak the private scalar)."""
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != len(SPKI_PREFIX) + 65 or not raw.startswith(SPKI_PREFIX + b"\x04"):
        raise ValueError("not an uncompressed P-256 public key")
    x = int.from_bytes(raw[-64:-32], "big")
    y = int.from_bytes(raw[-32:], "big")
    if not _on_curve(x, y):
        raise ValueError("public key is not on P-256")
    return x, y


def fingerprint(key: bytes, value: str) -> str:
    """``hmac:`` + the first 128 bits of HMAC-SHA256(key, value), hex: what the php probe prints."""
    return "hmac:" + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:FINGERPRINT_HEX]


def derive_key(shared_x: int) -> bytes:
    """The fingerprint key from the shared x-coordinate (leading zero bytes dropped, as the probe does)."""
    return hashlib.sha256(LABEL + shared_x.to_bytes((shared_x.bit_length() + 7) // 8, "big")).digest()


@dataclass(frozen=True)
class KeyExchange:
    """The doctor's side of one exchange: the private scalar never leaves this object."""

    private: int = field(default_factory=lambda: 1 + secrets.randbelow(N - 1), repr=False)

    @cached_property
    def public_b64(self) -> str:
        """``A = a·G`` as base64 SubjectPublicKeyInfo: the only value the command carries."""
        point = _mul(self.private, (GX, GY))
        assert point is not None  # 0 < a < N
        return encode_public(point)

    def shared_key(self, peer_b64: str) -> bytes:
        """The fingerprint key from the probe's public key ``B``."""
        shared = _mul(self.private, decode_public(peer_b64))
        if shared is None:
            raise ValueError("degenerate shared point")
        return derive_key(shared[0])
