"""Read limits and digest checks of the stores: every read stops at its bound."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import pytest

from cfgc.base.canonical import sha256_digest
from cfgc.base.errors import IntegrityError
from cfgc.stores.base import check_digest, digest_hex
from cfgc.stores.bounds import POINTER_MAX, compressed_bound, gunzip, read_capped
from cfgc.stores.file import FileStore
from tests.unit.runtime.tamper import gzip_zeros

HEX = "ab" * 32


@pytest.mark.parametrize("bad", [
    "sha256:../../../../tmp/victim", f"sha256:{HEX.upper()}", f"sha256:{HEX}\n", f"sha256:{HEX}0",
    f"sha512:{HEX}", HEX, f"sha256:{HEX[:-1]}/", None, 12,
])
def test_digest_refused_before_it_becomes_a_path(bad: object) -> None:
    with pytest.raises(IntegrityError) as e:
        digest_hex(bad)
    assert e.value.exit_code == 5


def test_digest_accepted() -> None:
    assert digest_hex(f"sha256:{HEX}") == HEX and check_digest(f"sha256:{HEX}") == f"sha256:{HEX}"


def test_gunzip_stops_at_the_signed_size() -> None:
    bomb = gzip_zeros(64 << 20)
    with pytest.raises(IntegrityError, match="more than the 1000 bytes"):
        gunzip(bomb, 1000, "targets/a.json")
    assert gunzip(gzip.compress(b"x" * 1000), 1000, "a") == b"x" * 1000


GZ = gzip.compress(b"abc", mtime=0)


@pytest.mark.parametrize("blob", [GZ[:-4], GZ + b"junk", GZ * 2, b"not gzip"],
                         ids=["truncated", "trailing", "two-members", "not-gzip"])
def test_gunzip_refuses_truncated_padded_or_multi_member(blob: bytes) -> None:
    with pytest.raises(IntegrityError):
        gunzip(blob, 100, "a")


def test_compressed_bound_covers_incompressible_data() -> None:
    for n in (0, 1, 1000, 70_000, 1 << 20):
        data = os.urandom(n)
        assert len(gzip.compress(data, compresslevel=9, mtime=0)) <= compressed_bound(n)


def test_read_capped_reads_one_byte_past_the_bound_only() -> None:
    stream = io.BytesIO(b"x" * 10_000_000)
    with pytest.raises(IntegrityError, match="limit of 100 bytes"):
        read_capped(stream.read, 100, "thing")
    assert stream.tell() == 101
    assert read_capped(io.BytesIO(b"y" * 100).read, 100, "thing") == b"y" * 100


def test_file_store_bounds_blobs_and_pointers(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    data = b"z" * 5000
    digest = sha256_digest(data)
    store.put_blob(digest, data)
    assert store.get_blob(digest, max_bytes=5000) == data
    with pytest.raises(IntegrityError, match="limit of 4999 bytes"):
        store.get_blob(digest, max_bytes=4999)
    (tmp_path / "channels").mkdir()
    (tmp_path / "channels" / "prod.json").write_bytes(b" " * (POINTER_MAX + 1))
    with pytest.raises(IntegrityError, match="channels/prod.json is larger"):
        store.get_channel("prod")
    with pytest.raises(IntegrityError):
        store.get_blob("sha256:../../etc/passwd")
