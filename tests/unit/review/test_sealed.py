"""Sealed result files: the body comes back only from the file cfgc wrote, under its own kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfgc.review.sealed import read_sealed, write_sealed

KEY, POLICY, CHECK = b"k" * 32, b"cfgc-policy-cache 1\n", b"cfgc-check-cache 1\n"


def test_round_trip_and_every_tamper_refused(tmp_path: Path) -> None:
    path = tmp_path / "sub/results"
    assert write_sealed(path, POLICY, KEY, b'{"a":1}')
    assert read_sealed(path, POLICY, KEY, 1000) == b'{"a":1}'
    data = path.read_bytes()
    for bad in (data[:-1], data[:-1] + b"2", data.replace(b'"a"', b'"b"')):
        path.write_bytes(bad)
        with pytest.raises(ValueError):
            read_sealed(path, POLICY, KEY, 1000)
    path.write_bytes(data)
    with pytest.raises(ValueError):
        read_sealed(path, POLICY, b"x" * 32, 1000)  # another key
    with pytest.raises(ValueError):
        read_sealed(path, POLICY, KEY, len(data) - 1)  # over the bound


def test_one_kinds_authentic_body_does_not_pass_for_another(tmp_path: Path) -> None:
    path = tmp_path / "results"
    write_sealed(path, POLICY, KEY, b'{"entries":{}}')
    path.write_bytes(CHECK + path.read_bytes()[len(POLICY):])  # same MAC line and body, other magic
    with pytest.raises(ValueError):
        read_sealed(path, CHECK, KEY, 1000)
