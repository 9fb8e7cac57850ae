"""A reader's file store must exist; a publisher's is created by its first write."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfgc.base.errors import EXIT_EXTERNAL, ExternalError
from cfgc.stores import open_store


@pytest.mark.parametrize("read", [
    lambda s: s.list_versions(), lambda s: s.list_channels(), lambda s: s.get_channel("prod"),
    lambda s: s.get_version("abcdefabcdef"), lambda s: s.has_blob("sha256:" + "0" * 64),
])
def test_reader_store_that_does_not_exist_is_exit_4(tmp_path: Path, read) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"file://{tmp_path}/missing", must_exist=True)
    with pytest.raises(ExternalError, match="does not exist") as e:
        read(store)
    assert e.value.exit_code == EXIT_EXTERNAL


def test_publisher_store_starts_empty(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}/new")
    assert store.list_versions() == [] and store.get_channel("prod").data is None
    assert store.put_version("abcdefabcdef", b"{}")
    assert open_store(f"file://{tmp_path}/new", must_exist=True).list_versions() == ["abcdefabcdef"]
