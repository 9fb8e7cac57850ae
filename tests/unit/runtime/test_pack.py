"""The packed layout of a version: lookups, iteration order, bounds, and the map released with the version."""

from __future__ import annotations

import gc
import random
import weakref

import pytest

from cfgc.base.errors import IntegrityError
from cfgc.runtime.pack import PackedFiles, PackWriter, StringTable


def names(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [f"tenant-{rng.randrange(50):03d}/env-{i % 4}/svc-{i:05d}" for i in range(n)]


def test_string_table_is_the_sequence_it_was_given() -> None:
    items = names(2000)
    table = StringTable(items)
    assert list(table) == items and len(table) == len(items)
    assert table == tuple(items) and table[-1] == items[-1] and list(table[3:6]) == items[3:6]
    for i in random.Random(1).sample(range(len(items)), 200):
        assert table.find(items[i]) == i and items[i] in table
    assert table.find("tenant-000/env-0/svc-99999") == -1 and "nope" not in table and 3 not in table
    with pytest.raises(IndexError):
        table[len(items)]


def test_string_table_survives_equal_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Lookups bisect hashes and then compare the strings: two strings with one hash both resolve.
    class Same(str):
        def __hash__(self) -> int:
            return 42

    table = StringTable([Same("a"), Same("b"), Same("c")])
    assert [table.find(Same(s)) for s in "abc"] == [0, 1, 2] and table.find(Same("d")) == -1


def test_packed_files_answer_every_path_with_its_bytes() -> None:
    rng = random.Random(3)
    files = {f"targets/{n}.json": rng.randbytes(rng.randrange(0, 4000)) for n in names(500)}
    files["prompts/a/v1.md"] = b"hello"
    pack = PackedFiles.of(files)
    assert list(pack) == list(files) and len(pack) == len(files)
    for path, data in files.items():
        assert pack[path] == data and bytes(pack.view(path)) == data and path in pack  # type: ignore[arg-type]
    assert pack.get("targets/missing.json") is None and pack.view("targets/missing.json") is None
    with pytest.raises(KeyError):
        pack["targets/missing.json"]


def test_a_writer_refuses_more_bytes_than_announced() -> None:
    w = PackWriter(10)
    w.add("a", b"12345")
    with pytest.raises(IntegrityError, match="larger than the 10 bytes"):
        w.add("b", b"123456")
    w.add("b", b"12345")
    assert dict(w.finish()) == {"a": b"12345", "b": b"12345"}


def test_the_map_goes_with_the_last_reference() -> None:
    pack = PackedFiles.of({"a": b"x" * 100_000})
    the_map = weakref.ref(pack._map)  # noqa: SLF001 - the map itself is what must be released
    data = pack["a"]  # a copy: holds nothing of the map
    del pack
    gc.collect()
    assert the_map() is None and data == b"x" * 100_000
