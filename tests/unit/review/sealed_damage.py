"""Ways to damage a sealed result file (review/sealed.py: magic line, MAC line, body), shared by its users' tests."""

from __future__ import annotations

DAMAGES = ("flip", "forged", "truncated", "garbage")


def damaged(data: bytes, magic: bytes, forged_body: bytes, damage: str) -> bytes:
    """``data`` damaged one way: ``forged_body`` under the old MAC (flip) or a made-up one (forged),
    cut in half, or replaced by zeros."""
    mac = data[len(magic):].partition(b"\n")[0]
    return {
        "flip": magic + mac + b"\n" + forged_body,
        "forged": magic + b"0" * 64 + b"\n" + forged_body,
        "truncated": data[: len(data) // 2],
        "garbage": b"\x00" * 100,
    }[damage]
