"""Deeply nested JSON in a file or reply cfgc parses is refused as that reader refuses
bad JSON (json.loads raises RecursionError, not ValueError, past Python's depth)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cfgc.base.errors import CfgcError, IntegrityError

DEEP = b"[" * 200_000


def test_a_deep_manifest_is_an_integrity_error(tmp_path: Path) -> None:
    from cfgc.bundle.attest import read_manifest

    (tmp_path / "manifest.json").write_bytes(DEEP)
    with pytest.raises(IntegrityError, match="not JSON"):
        read_manifest(tmp_path)


def test_a_deep_serials_file_is_a_state_file_error(tmp_path: Path) -> None:
    from cfgc.runtime.serials import SerialState

    (tmp_path / "serials.json").write_bytes(DEEP)
    with pytest.raises(CfgcError, match="corrupt"):
        SerialState(tmp_path / "serials.json")._read()


def test_a_deep_journal_is_not_cfgcs(tmp_path: Path) -> None:
    from cfgc.bundle import journal

    (tmp_path / "journal.json").write_bytes(DEEP)
    assert journal._read_journal(tmp_path / "journal.json") is None


def test_a_deep_tag_listing_page_is_an_integrity_error() -> None:
    from cfgc.stores import oci

    class Reply:
        status = 200
        body = DEEP

        @staticmethod
        def header(name: str) -> None:
            return None

    class Registry:
        host = "127.0.0.1"

        def request(self, *args: Any, **kwargs: Any) -> Reply:
            return Reply()

    with pytest.raises(IntegrityError, match="not a JSON object"):
        oci.OciStore(Registry(), "x/y").list_versions()  # type: ignore[arg-type]
