"""The columnar record file (format 2) against what its records say: every
record read back is the one written (as format 1's per-entry lists decoded
it), and a damaged column is a miss, never a crash nor another record."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc import __version__
from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import Location
from cfgc.bundle.cache_index import cache_key
from cfgc.review import diff_cache
from cfgc.review.check_cache import decode_findings, encode_findings
from cfgc.review.diff_columns import Columns, pack, unpack
from cfgc.review.sealed import write_sealed

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=4))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)), max_leaves=5)
_FINDINGS = st.lists(st.builds(
    Diagnostic, st.sampled_from(["error", "warning"]), st.text(max_size=5),
    st.one_of(st.none(), st.builds(Location, st.text(min_size=1, max_size=5), st.integers(1, 9), st.integers(1, 9))),
    st.text(max_size=4), st.lists(st.text(max_size=3), max_size=2).map(tuple)), max_size=2)
_WHERE = st.lists(st.tuples(st.lists(st.one_of(st.text(max_size=3), st.integers(0, 3)), max_size=2),
                            st.text(max_size=4), st.integers(1, 99), st.integers(1, 9)).map(list), max_size=2)
_RECORD = st.tuples(st.sampled_from(["t/a", "t/b", "u/c"]), st.lists(st.sampled_from(["s1", "s2"]), max_size=2),
                    _FINDINGS, _WHERE, st.dictionaries(st.sampled_from(["k1", "k2", "k3"]), st.integers(0, 3)))


def _write(folder: Path, records: list[Any], subtrees: list[Any],
           damage: Any = None) -> dict[str, str]:
    out = Columns()
    wanted = {}
    for n, (name, secrets, findings, where, top) in enumerate(records):
        key = f"{n:064x}"
        out.add(key, [name, secrets, encode_findings(findings), where],
                [(k, f"id{i}", [subtrees[i], []]) for k, i in top.items()])
        wanted.setdefault(name, key)  # (a name's first record: get_many looks up one key per name)
    doc = out.doc(__version__)
    if damage is not None:
        damage(doc)
    write_sealed(folder / diff_cache.FILE_NAME, diff_cache.MAGIC, cache_key(), orjson.dumps(doc))
    return wanted


@settings(max_examples=60, deadline=None)
@given(st.lists(_VALUES, min_size=4, max_size=4), st.lists(_RECORD, max_size=6))
def test_every_record_reads_back_as_written(subtrees: list[Any], records: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as d, mock.patch.dict(os.environ, {"CFGC_CACHE_SECRET": "test"}):
        wanted = _write(Path(d), records, subtrees)
        got = diff_cache.DiffCache(Path(d)).get_many(wanted, {})
        assert set(got) == set(wanted)
        for name, key in wanted.items():
            rname, secrets, findings, where, top = records[int(key, 16)]
            rec = got[name]
            # What format 1 gave for the same entry: its lists, decoded and checked.
            assert rec.keys == tuple(top) and rec.value == {k: subtrees[i] for k, i in top.items()}
            assert rec.secrets == tuple(secrets) and rec.where == where
            assert rec.findings == tuple(decode_findings(encode_findings(findings)) or ())


def _set(field: str, at: int, value: int) -> Any:
    def damage(doc: dict[str, Any]) -> None:
        col = unpack(doc[field])
        assert col is not None
        if len(col):
            col[at % len(col)] = value
        doc[field] = pack(col)
    return damage


_DAMAGE = st.one_of(
    st.builds(_set, st.sampled_from(["rows", "offsets", "idx"]), st.integers(0, 50), st.integers(0, 2**32 - 1)),
    st.sampled_from([
        lambda doc: doc.update(rows="not base64!"), lambda doc: doc.update(idx="AAA"),
        lambda doc: doc.update(offsets=doc["rows"]), lambda doc: doc["names"].reverse(),
        lambda doc: doc.update(secrets=[[1]] * len(doc["secrets"])), lambda doc: doc.update(where={}),
        lambda doc: doc.update(findings=[["bad"]] * len(doc["findings"])), lambda doc: doc["keys"].append(3),
    ]))


@settings(max_examples=100, deadline=None)
@given(st.lists(_VALUES, min_size=4, max_size=4), st.lists(_RECORD, min_size=1, max_size=6), _DAMAGE)
def test_a_damaged_column_is_a_miss_or_the_record_written(subtrees: list[Any], records: list[Any],
                                                            damage: Any) -> None:
    with tempfile.TemporaryDirectory() as d, mock.patch.dict(os.environ, {"CFGC_CACHE_SECRET": "test"}):
        wanted = _write(Path(d), records, subtrees, damage)
        got = diff_cache.DiffCache(Path(d)).get_many(wanted, {})
        for name, rec in got.items():  # a record served is never another's, nor a malformed one
            assert records[int(wanted[name], 16)][0] == name
            # (A damaged index can name another entry of the sealed file: never something not in it.)
            assert all(any(v == t for t in subtrees) for v in rec.value.values())
            assert all(type(s) is str for s in rec.secrets) and type(rec.where) is list
            assert all(isinstance(d, Diagnostic) for d in rec.findings)


@pytest.mark.parametrize("values", [[], [0], [1, 2**32 - 1, 7]])
def test_packed_indices_round_trip(values: list[int]) -> None:
    got = unpack(pack(values))
    assert got is not None and list(got) == values
    assert unpack("AAE=") is None and unpack(None) is None and unpack("é") is None


@settings(max_examples=40, deadline=None)
@given(st.lists(_VALUES, min_size=4, max_size=4), st.lists(_RECORD, min_size=2, max_size=6))
def test_a_key_asked_for_under_another_name_is_never_served(subtrees: list[Any], records: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as d, mock.patch.dict(os.environ, {"CFGC_CACHE_SECRET": "test"}):
        _write(Path(d), records, subtrees)
        cache = diff_cache.DiffCache(Path(d))
        for n, (name, *_rest) in enumerate(records):
            for other in {"t/a", "t/b", "u/c", "v/d"} - {name}:
                assert cache.get_many({other: f"{n:064x}"}, {}) == {}


def _records(n: int, keys: int) -> Columns:
    out = Columns()
    for r in range(n):
        out.add(f"{r:064x}", [f"t/{r}", [], [], []], [(f"k{j}", f"id{j}", [j, []]) for j in range(keys)])
    return out


def test_a_file_past_the_index_bound_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFGC_CACHE_SECRET", "test")
    write_sealed(tmp_path / diff_cache.FILE_NAME, diff_cache.MAGIC, cache_key(),
                 orjson.dumps(_records(10, 3).doc(__version__)))  # 30 packed indices
    wanted = {f"t/{r}": f"{r:064x}" for r in range(10)}
    assert len(diff_cache.DiffCache(tmp_path).get_many(wanted, {})) == 10
    monkeypatch.setattr(diff_cache, "MAX_INDICES", 29)
    assert diff_cache.DiffCache(tmp_path).get_many(wanted, {}) == {}
    monkeypatch.setattr(diff_cache, "MAX_INDICES", 30)
    monkeypatch.setattr(diff_cache, "MAX_ENTRIES", 9)  # ten records
    assert diff_cache.DiffCache(tmp_path).get_many(wanted, {}) == {}


def test_what_a_save_writes_reads_back_within_the_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Old records are carried only while the file stays inside what a read accepts:
    # the records this run made are served next time, however many old ones there were.
    monkeypatch.setenv("CFGC_CACHE_SECRET", "test")
    write_sealed(tmp_path / diff_cache.FILE_NAME, diff_cache.MAGIC, cache_key(),
                 orjson.dumps(_records(40, 3).doc(__version__)))
    monkeypatch.setattr(diff_cache, "MIN_KEEP", 1000)
    cache = diff_cache.DiffCache(tmp_path)
    assert len(cache._rows) == 40  # read under the bound it was written with (120 indices)
    monkeypatch.setattr(diff_cache, "MAX_INDICES", 60)  # then lowered: 20 records of 3 keys
    cache.put("f" * 64, ["new/t", [], [], [], [["k0", "id0"], ["k1", "id1"], ["k2", "id2"]]], {})
    cache.save()
    again = diff_cache.DiffCache(tmp_path)
    assert len(again._idx) <= 60 and len(again._rows) > 1
    assert list(again.get_many({"new/t": "f" * 64}, {})) == ["new/t"]
    newest = {f"t/{r}": f"{r:064x}" for r in range(39, 40)}  # the most recently written old record is kept
    assert list(again.get_many(newest, {})) == ["t/39"]


def test_a_path_orjson_cannot_write_skips_the_save(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFGC_CACHE_SECRET", "test")
    for head in (["t/a", [], [], [[["k"], "layers/\udcff.yaml", 1, 1]]], ["t/a", ["secrets/\udcff.sops.yaml"], [], []]):
        cache = diff_cache.DiffCache(tmp_path)
        cache.put("0" * 64, [*head, [["k", "s1"]]], {"s1": [b"1", []]})
        cache.save()  # a cache: nothing written, nothing raised
        assert not (tmp_path / diff_cache.FILE_NAME).exists()
