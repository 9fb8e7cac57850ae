"""A bundle's manifest or signature that is not a regular file, or too large, is an
integrity failure (exit 5) of that bundle, never a hang or a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cfgc.base.errors import IntegrityError
from cfgc.base.limits import MAX_FILE_BYTES
from cfgc.bundle.attest import read_manifest
from cfgc.bundle.signing import load_envelope


def test_a_fifo_manifest_is_an_integrity_error(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "manifest.json")
    with pytest.raises(IntegrityError) as e:
        read_manifest(tmp_path)
    assert e.value.exit_code == 5 and "manifest.json" in str(e.value)


def test_a_manifest_over_the_file_bound_is_an_integrity_error(tmp_path: Path) -> None:
    with open(tmp_path / "manifest.json", "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing written
    with pytest.raises(IntegrityError, match="over the"):
        read_manifest(tmp_path)


def test_a_folder_where_the_signature_is_is_an_integrity_error(tmp_path: Path) -> None:
    (tmp_path / "signature.json").mkdir()
    with pytest.raises(IntegrityError):
        load_envelope(tmp_path / "signature.json")
