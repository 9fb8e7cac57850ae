"""A diff whose targets come from kept records says byte for byte what compiling
every reached target says, and a damaged record file costs compiles, never a wrong diff."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from cfgc.bundle.cache_index import cache_key
from cfgc.compile.compiler import Compiler
from cfgc.review import diff_cache
from cfgc.review.diff import DiffResult, compare, open_sides
from cfgc.review.diff_columns import pack, unpack
from cfgc.review.report.diff import render_json, render_markdown, render_text
from cfgc.review.sealed import read_sealed, write_sealed
from tests.fixtures.repos import git, git_init

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every target compiled, on either side."""
    seen: list[str] = []
    real = Compiler.compile

    def spy(self: Compiler, spec):  # type: ignore[no-untyped-def]
        seen.append(spec.name)
        return real(self, spec)

    monkeypatch.setattr(Compiler, "compile", spy)
    monkeypatch.setenv("CFGC_JOBS", "1")  # the spy sees every compile in this process
    return seen


def diff(root: Path, base: str, head: str | None, cache: Path | None) -> DiffResult:
    return compare(*open_sides(root, base, head), None, base, head or "working tree", cache=cache)


def same_output(got: DiffResult, want: DiffResult) -> None:
    assert got == want
    for render in (render_json, render_text, render_markdown):
        assert render(got) == render(want)


def rotate(text: str) -> str:
    """One ciphertext leaf changed (a rotated secret), the rest of the file as it was."""
    at = text.index("data:") + len("data:")
    return text[:at] + ("B" if text[at] == "A" else "A") + text[at + 1:]


EDITS = [
    ("base/00-providers.yaml", lambda t: t + "\nglobal_extra: 1\n"),
    ("envs/prod.yaml", lambda t: t + "\nenv_extra: 1\n"),
    ("tenants/acme/tenant.yaml", lambda t: t + "\ntenant_extra: [1, 2]\n"),
    ("tenants/acme/dev/services/chat.yaml", lambda t: t + "\nservice_extra: {a: 1.0}\n"),
    ("tenants/globex/secrets.enc.yaml", rotate),
    ("schemas/service.json", lambda t: t + "\n"),
    ("prompts/summarize/1.2.0.j2", lambda t: t + "\n{# edited #}\n"),
    ("cfgc.yaml", lambda t: t + "\n# edited\n"),
    ("prompts/README.md", lambda t: "no compile reads this\n"),
]


@pytest.mark.parametrize(("path", "edit"), EDITS, ids=[p for p, _ in EDITS])
@pytest.mark.parametrize("committed", [False, True])
def test_records_say_what_compiling_says(example_repo: Path, tmp_path: Path, compiles: list[str],
                                         path: str, edit, committed: bool) -> None:  # type: ignore[no-untyped-def]
    base = git_init(example_repo)
    target = example_repo / path
    target.write_text(edit(target.read_text() if target.exists() else ""))
    head = None
    if committed:
        git(example_repo, "add", "-A")
        git(example_repo, "commit", "-q", "-m", "edit")
        head = "HEAD"
    want = diff(example_repo, base, head, None)
    cache = tmp_path / "cache"
    same_output(diff(example_repo, base, head, cache), want)  # compiles and records
    compiles.clear()
    same_output(diff(example_repo, base, head, cache), want)  # from the records
    assert compiles == []
    # The sides swapped: the records of the base side hold no head-side
    # locations, so the targets with changes are compiled for them.
    if committed:
        same_output(diff(example_repo, "HEAD", base, cache), diff(example_repo, "HEAD", base, None))


def test_a_generated_corpus_from_records(tmp_path: Path, compiles: list[str]) -> None:
    root = tmp_path / "corpus"
    subprocess.run([sys.executable, str(ROOT / "benchmarks/corpus.py"), "--tenants", "2", "--envs", "2",
                    "--services", "3", "--git", str(root)], check=True, capture_output=True)
    glob = sorted((root / "base").glob("*.yaml"))[0]
    glob.write_text(glob.read_text() + "\nbench_global_change: 1\n")
    want = diff(root, "HEAD", None, None)
    assert want.targets
    cache = tmp_path / "cache"
    same_output(diff(root, "HEAD", None, cache), want)
    compiles.clear()
    same_output(diff(root, "HEAD", None, cache), want)
    assert compiles == []
    service = sorted(root.glob("tenants/*/*/services/*.yaml"))[0]
    service.write_text(service.read_text() + "\nanother: 2\n")  # one more target changed since
    want = diff(root, "HEAD", None, None)
    compiles.clear()
    same_output(diff(root, "HEAD", None, cache), want)
    tenant, env = service.relative_to(root).parts[1:3]
    assert compiles == [f"{tenant}/{env}/{service.stem}"]  # its head side only: the base is recorded


def _reseal(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    key = cache_key()
    doc = orjson.loads(read_sealed(path, diff_cache.MAGIC, key, diff_cache.MAX_FILE_BYTES))
    change(doc)
    write_sealed(path, diff_cache.MAGIC, key, orjson.dumps(doc))


def _reseal_as(path: Path, magic: bytes, change) -> None:  # type: ignore[no-untyped-def]
    key = cache_key()
    doc = orjson.loads(read_sealed(path, diff_cache.MAGIC, key, diff_cache.MAX_FILE_BYTES))
    change(doc)
    write_sealed(path, magic, key, orjson.dumps(doc))


def _as_entries(doc) -> None:  # type: ignore[no-untyped-def]
    """The records laid out as format 1 wrote them (one list per entry)."""
    idx, offsets, rows = unpack(doc["idx"]), unpack(doc["offsets"]), unpack(doc["rows"])
    entries = {}
    for r, key in enumerate(doc.pop("keys")):
        shape, s, f, w = rows[4 * r:4 * r + 4]
        entries[key] = [doc["names"][r], doc["secrets"][s], doc["findings"][f], doc["where"][w], shape,
                        list(idx[offsets[r]:offsets[r + 1]])]
    for k in ("names", "secrets", "findings", "where", "rows", "offsets", "idx"):
        del doc[k]
    doc["entries"] = entries


def _swap_entries(doc) -> None:  # type: ignore[no-untyped-def]
    # (the entries are columns: the first and last record keys name each other's row)
    keys = doc["keys"]
    keys[0], keys[-1] = keys[-1], keys[0]


def _bad_index(doc) -> None:  # type: ignore[no-untyped-def]
    idx, offsets = unpack(doc["idx"]), unpack(doc["offsets"])
    for start in offsets[:-1]:  # every record's first subtree index
        idx[start] = len(doc["subtrees"]) + 5
    doc["idx"] = pack(idx)


def _bad_shape(doc) -> None:  # type: ignore[no-untyped-def]
    doc["shapes"] = [[1, 2] for _ in doc["shapes"]]


def _bad_refs(doc) -> None:  # type: ignore[no-untyped-def]
    for sub in doc["subtrees"]:
        for ref in sub[1]:
            ref[0] = ["no", "such", "place"]


TAMPER = {
    "flipped byte": lambda p: p.write_bytes(p.read_bytes()[:-10] + b"X" + p.read_bytes()[-9:]),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    "empty": lambda p: p.write_bytes(b""),
    "another magic": lambda p: p.write_bytes(b"cfgc-check-cache 1\n" + p.read_bytes().partition(b"\n")[2]),
    "the previous format": lambda p: _reseal_as(p, b"cfgc-diff-cache 1\n", _as_entries),
    "the previous layout sealed as this one": lambda p: _reseal(p, _as_entries),
    "swapped entries": lambda p: _reseal(p, _swap_entries),
    "index out of range": lambda p: _reseal(p, _bad_index),
    "keys not strings": lambda p: _reseal(p, _bad_shape),
    "references misplaced": lambda p: _reseal(p, _bad_refs),
}


@pytest.mark.parametrize("how", list(TAMPER))
def test_a_damaged_record_file_is_a_miss(example_repo: Path, tmp_path: Path, compiles: list[str], how: str) -> None:
    base = git_init(example_repo)
    providers = example_repo / "base/00-providers.yaml"
    providers.write_text(providers.read_text() + "\nglobal_extra: 1\n")
    want = diff(example_repo, base, None, None)
    cache = tmp_path / "cache"
    diff(example_repo, base, None, cache)
    TAMPER[how](cache / diff_cache.FILE_NAME)
    compiles.clear()
    same_output(diff(example_repo, base, None, cache), want)
    assert compiles  # what could not be used was compiled
    compiles.clear()
    same_output(diff(example_repo, base, None, cache), want)  # and recorded again
    assert compiles == []


def test_values_json_cannot_carry_are_not_recorded() -> None:
    enc = diff_cache.Encoder()
    for bad in ({"x": float("nan")}, {"x": 2**70}, {"x": {1: "a"}}, {"x": {"y": (1, 2)}}, ["not a mapping"]):
        assert enc.record("t", bad, (), (), {}, [], {}) is None
    assert enc.record("t", {"x": [1.5, -0.0, True, None, "s"]}, (), (), {}, [], {}) is not None


@pytest.mark.parametrize("from_index", [False, True], ids=["hashed", "index"])
def test_a_file_saved_while_the_diff_runs_is_not_recorded_under_its_old_id(
        example_repo: Path, tmp_path: Path, compiles: list[str], monkeypatch: pytest.MonkeyPatch,
        from_index: bool) -> None:
    """The working tree's ids are taken when the changed files are found; the
    compile reads the file later.  A file saved in between must not leave its
    new value recorded under the old bytes' id: the next diff of the old bytes
    would be served it."""
    from cfgc.review import diff as diff_module
    from cfgc.review import diff_files

    base = git_init(example_repo)
    f = example_repo / "tenants/acme/dev/services/chat.yaml"
    orig = f.read_text()
    x1, x2 = orig + "\nservice_extra: 1\n", orig + "\nservice_extra: 2\nsneaky: true\n"
    f.write_text(x1)
    if from_index:  # the id of x1 comes from git's index, the file is never hashed
        git(example_repo, "add", str(f))
        monkeypatch.setattr(diff_files, "_INDEX_MIN", 0)
    real = diff_module.changed_files

    def racing(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(*args, **kwargs)  # the ids of x1 taken here
        f.write_text(x2)  # the user's editor saves meanwhile
        return out

    cache = tmp_path / "cache"
    monkeypatch.setattr(diff_module, "changed_files", racing)
    racy = diff(example_repo, base, None, cache)
    monkeypatch.setattr(diff_module, "changed_files", real)
    assert any("sneaky" in str(c.path) for t in racy.targets for c in t.changes)  # it compiled x2
    f.write_text(x1)  # back at the bytes the ids named
    want = diff(example_repo, base, None, None)
    compiles.clear()
    same_output(diff(example_repo, base, None, cache), want)
    assert compiles == ["acme/dev/chat"]  # its head side compiled again: nothing was recorded for it
    compiles.clear()
    same_output(diff(example_repo, base, None, cache), want)
    assert compiles == []  # a diff that read what its ids named records as before
