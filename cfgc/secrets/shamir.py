"""Shamir secret sharing over GF(2^8), share-compatible with SOPS (HashiCorp's scheme).

A share is the polynomial values for every secret byte followed by one byte: the
x coordinate (1..255).  Field multiplication reduces by the AES polynomial (0x1B).
"""

from __future__ import annotations

import os

from cfgc.base.errors import InputError, IntegrityError


def _mul(a: int, b: int) -> int:
    acc = 0
    for i in range(7, -1, -1):
        bit = (b >> i) & 1
        acc = ((acc << 1) & 0xFF) ^ (0x1B if acc & 0x80 else 0)
        if bit:
            acc ^= a
    return acc


def _inv(a: int) -> int:
    # a^254 = a^-1 in GF(2^8)
    result, base, exp = 1, a, 254
    while exp:
        if exp & 1:
            result = _mul(result, base)
        base = _mul(base, base)
        exp >>= 1
    return result


def _eval(coeffs: list[int], x: int) -> int:
    out = coeffs[-1]
    for c in reversed(coeffs[:-1]):
        out = _mul(out, x) ^ c
    return out


def split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``parts`` shares, any ``threshold`` of which recover it."""
    if not 2 <= threshold <= parts <= 255:
        raise InputError("shamir: need 2 <= threshold <= parts <= 255")
    if not secret:
        raise InputError("shamir: cannot split an empty secret")
    shares = [bytearray(len(secret) + 1) for _ in range(parts)]
    for idx, val in enumerate(secret):
        coeffs = [val, *os.urandom(threshold - 1)]
        for i in range(parts):
            shares[i][idx] = _eval(coeffs, i + 1)
    for i in range(parts):
        shares[i][len(secret)] = i + 1
    return [bytes(s) for s in shares]


def combine(shares: list[bytes]) -> bytes:
    """Recover the secret from at least ``threshold`` shares."""
    if len(shares) < 2:
        raise IntegrityError("shamir: need at least two parts")
    n = len(shares[0])
    if n < 2 or any(len(s) != n for s in shares):
        raise IntegrityError("shamir: parts have inconsistent lengths")
    xs = [s[-1] for s in shares]
    if len(set(xs)) != len(xs):
        raise IntegrityError("shamir: duplicate part")
    basis = []
    for i, xi in enumerate(xs):
        b = 1
        for j, xj in enumerate(xs):
            if i != j:
                b = _mul(b, _mul(xj, _inv(xi ^ xj)))
        basis.append(b)
    out = bytearray(n - 1)
    for idx in range(n - 1):
        acc = 0
        for i, s in enumerate(shares):
            acc ^= _mul(s[idx], basis[i])
        out[idx] = acc
    return bytes(out)
