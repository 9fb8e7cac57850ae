"""In-place rebuilds (cfgc.bundle.incremental): byte-identical to a clean build, crash-safe, distrustful."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cfgc
from cfgc.base.errors import CfgcError, InvalidConfig
from cfgc.bundle import incremental, journal, outstate
from cfgc.repo.sources import DirSource
from tests.fixtures.repos import GRID_CONFIG

CONFIG = GRID_CONFIG
SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}}}
ENVS, SERVICES = ("dev", "prod"), 6


@pytest.fixture
def repo(make_repo) -> Path:
    files = {
        "base/a.yaml": "limits: {rpm: 10}\n",
        "schemas/s.json": json.dumps(SCHEMA),
        "prompts/hi/1.0.0.j2": "hi {{ name }}\n",
        "prompts/hi/2.0.0.j2": "hello {{ name }}\n",
    }
    for env in ENVS:
        files[f"envs/{env}.yaml"] = f"env: {env}\n"
        for i in range(SERVICES):
            files[f"svc/{env}/s{i}.yaml"] = f"id: {i}\n"
    return make_repo(files, config=CONFIG)


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` with its bytes, and every folder (empty ones too)."""
    found: dict[str, bytes] = {}
    for dirpath, _dirs, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        found[rel + "/"] = b""
        for name in files:
            found[os.path.join(rel, name)] = Path(dirpath, name).read_bytes()
    return found


def build(repo: Path, out: Path, cache: Path | bool) -> cfgc.BuildResult:
    return cfgc.build_bundle(repo, out, cache=cache, jobs=1)


def clean(repo: Path, where: Path) -> dict[str, bytes]:
    where.mkdir(exist_ok=True)
    out = where / f"clean{len(list(where.iterdir()))}"
    build(repo, out, False)
    return tree(out)


def edit(repo: Path, rng: random.Random) -> str:
    """One random, valid edit: a service, an env or the base file; sometimes a prompt pin."""
    kind = rng.choice(["svc", "svc", "svc", "env", "base", "pin", "same"])
    if kind in ("svc", "pin", "same"):
        path = f"svc/{rng.choice(ENVS)}/s{rng.randrange(SERVICES)}.yaml"
        i = int(path[-6])
        body = {
            "svc": f"id: {i}\nv: {rng.randrange(1000)}\n",
            "pin": f"id: {i}\np: !prompt hi@^{rng.choice([1, 2])}\n",
            "same": (repo / path).read_text(),  # rewritten with the same bytes
        }[kind]
    elif kind == "env":
        path, body = f"envs/{rng.choice(ENVS)}.yaml", f"env: x{rng.randrange(1000)}\n"
    else:
        path, body = "base/a.yaml", f"limits: {{rpm: {rng.randrange(1000)}}}\n"
    (repo / path).write_text(body)
    return path


@pytest.mark.parametrize("direct_max", [incremental.DIRECT_MAX, 0], ids=["without cache", "through the cache"])
def test_random_edits_give_the_bytes_of_a_clean_build(repo: Path, tmp_path: Path, monkeypatch, direct_max: int) -> None:
    monkeypatch.setattr(incremental, "DIRECT_MAX", direct_max)
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    inode = out.stat().st_ino
    rng = random.Random(15)
    in_place = 0
    for _ in range(25):
        edit(repo, rng)
        build(repo, out, cache)
        in_place += out.stat().st_ino == inode  # a full build swaps in another folder
        inode = out.stat().st_ino
        assert tree(out) == clean(repo, tmp_path / "clean")
        assert not journal.commit_dir(out.resolve()).exists()
    assert in_place >= 10  # most edits reach few targets: they were updated in place


def test_nothing_changed_is_unchanged_and_writes_nothing(repo: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = build(repo, out, cache)
    before = {p: os.stat(out / p, follow_symlinks=False).st_mtime_ns for p in tree(out) if not p.endswith("/")}
    again = build(repo, out, cache)
    assert again.unchanged and not first.unchanged
    assert (again.digest, again.targets, again.cache_hits) == (first.digest, first.targets, len(first.targets))
    assert {p: os.stat(out / p).st_mtime_ns for p in before} == before


def test_one_changed_file_is_the_only_file_read(repo: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(outstate, "RACY_NS", -10**12)  # trust every stat, however recent
    monkeypatch.setattr("cfgc.bundle.cache_digests.RACY_NS", -10**12)
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    (repo / "svc/dev/s1.yaml").write_text("id: 1\nchanged: true\n")
    reads: list[str] = []
    real = DirSource.read_stat
    monkeypatch.setattr(DirSource, "read_stat", lambda self, p: reads.append(p) or real(self, p))
    done = build(repo, out, cache)
    assert reads == ["svc/dev/s1.yaml"]
    assert done.cache_hits == len(done.targets) - 1
    assert tree(out) == clean(repo, tmp_path / "clean")


def test_a_failed_build_leaves_out_as_it_was(repo: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    before = tree(out)
    (repo / "svc/dev/s2.yaml").write_text("id: not-a-number\n")
    with pytest.raises(InvalidConfig) as e:
        build(repo, out, cache)
    assert any("dev/s2" in d.targets for d in e.value.diagnostics)
    assert tree(out) == before
    assert not journal.commit_dir(out.resolve()).exists()


@pytest.mark.parametrize("recover_with", ["build", "verify"])
def test_a_crash_between_renames_is_rolled_forward(repo: Path, tmp_path: Path, monkeypatch, recover_with: str) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    for i in range(3):  # three targets, so the commit has four renames
        (repo / f"svc/prod/s{i}.yaml").write_text(f"id: {i}\nnew: {i}\n")
    real = journal.commit
    monkeypatch.setattr(incremental, "commit", lambda o, m, d: real(o, m, d, fail_after=2))
    with pytest.raises(CfgcError):
        build(repo, out, cache)
    assert (journal.commit_dir(out.resolve()) / journal.JOURNAL).exists()  # half committed
    monkeypatch.setattr(incremental, "commit", real)
    if recover_with == "verify":
        from cfgc.bundle.attest import verify_bundle

        with pytest.raises(CfgcError):  # unsigned: verification fails, after the roll-forward
            verify_bundle(out, [])
    else:
        build(repo, out, cache)
    assert not journal.commit_dir(out.resolve()).exists()
    assert tree(out) == clean(repo, tmp_path / "clean")


@pytest.mark.parametrize("tamper", ["target", "manifest", "extra file", "state", "missing file"])
def test_tampered_out_or_state_means_a_full_write(repo: Path, tmp_path: Path, tamper: str) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    (repo / "svc/dev/s0.yaml").write_text("id: 0\nx: 1\n")
    victim = out / "targets/prod/s3.json"
    if tamper == "target":
        os.chmod(victim, 0o644)
        victim.write_text(victim.read_text().replace('"id":3', '"id":4'))
    elif tamper == "manifest":
        (out / "manifest.json").write_text((out / "manifest.json").read_text() + " ")
    elif tamper == "extra file":
        (out / "targets/prod/evil.json").write_text("{}")
    elif tamper == "missing file":
        victim.unlink()
    else:
        state = outstate.state_path(cache, out.resolve())
        state.write_bytes(state.read_bytes().replace(b'"prod/s3"', b'"prod/s9"'))
    inode = out.stat().st_ino
    build(repo, out, cache)
    assert out.stat().st_ino != inode  # written whole and swapped in
    assert tree(out) == clean(repo, tmp_path / "clean")


def test_verify_out_hashes_a_file_whose_stat_was_restored(repo: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    victim = out / "targets/dev/s4.json"
    st = victim.stat()
    os.chmod(victim, 0o644)
    victim.write_text(victim.read_text().replace('"id":4', '"id":5'))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    cfgc.build_bundle(repo, out, cache=cache, jobs=1, verify_out=True)
    assert tree(out) == clean(repo, tmp_path / "clean")


def test_a_planted_journal_cannot_move_files_out_of_the_bundle(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cdir = journal.commit_dir(out)
    cdir.mkdir()
    (cdir / "x").write_text("planted")
    (cdir / journal.JOURNAL).write_text(json.dumps({"moves": ["../x", "x/../../y"], "deletes": ["/etc/passwd"]}))
    assert journal.recover(out) is False
    assert not cdir.exists() and list(out.iterdir()) == []


def test_the_unchanged_path_imports_no_compiler(repo: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    code = (
        "import sys, cfgc; r = cfgc.build_bundle(sys.argv[1], sys.argv[2], cache=sys.argv[3]); "
        "heavy = [m for m in ('yaml', 'jsonschema_rs', 'jsonschema', 'jinja2', 'cfgc.compile.compiler') "
        "if m in sys.modules]; print(r.unchanged, heavy)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(cfgc.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", code, str(repo), str(out), str(cache)],
                          capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "True []"


@pytest.mark.parametrize("change", ["add", "remove", "add in a new folder"])
def test_an_added_or_removed_file_is_seen_through_folder_stamps(
    repo: Path, tmp_path: Path, monkeypatch, change: str
) -> None:
    monkeypatch.setattr(outstate, "RACY_NS", -10**12)  # folders are trusted by stat, however recent
    monkeypatch.setattr("cfgc.bundle.cache_digests.RACY_NS", -10**12)
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = build(repo, out, cache)
    time.sleep(0.05)  # past the file system's timestamp granularity
    if change == "add":
        (repo / "svc/dev/s9.yaml").write_text("id: 9\n")
    elif change == "remove":
        (repo / "svc/dev/s5.yaml").unlink()
    else:
        (repo / "svc/qa").mkdir()
        (repo / "svc/qa/s1.yaml").write_text("id: 1\n")
        (repo / "envs/qa.yaml").write_text("env: qa\n")
    done = build(repo, out, cache)
    assert len(done.targets) == len(first.targets) + (-1 if change == "remove" else 1)
    assert tree(out) == clean(repo, tmp_path / "clean")


def test_a_tampered_cache_blob_never_reaches_the_manifest(repo: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(incremental, "DIRECT_MAX", 0)  # look targets up in the cache
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    original = (repo / "svc/dev/s1.yaml").read_text()
    (repo / "svc/dev/s1.yaml").write_text("id: 1\nother: 2\n")
    build(repo, out, cache)
    for blob in (cache / "blobs").iterdir():  # every blob, the original s1's among them
        os.chmod(blob, 0o644)
        blob.write_bytes(blob.read_bytes().replace(b'"id":1', b'"id":7'))
    (repo / "svc/dev/s1.yaml").write_text(original)  # back to bytes the cache has a key for
    build(repo, out, cache)
    assert tree(out) == clean(repo, tmp_path / "clean")


@pytest.mark.parametrize("forge_mtime", [False, True])
def test_a_symlinked_folder_in_out_is_never_written_through(repo: Path, tmp_path: Path, forge_mtime: bool) -> None:
    # An attacker who can write OUT swaps a folder for a symlink to a copy
    # elsewhere (its mtime forged to the recorded one with lutimes): the copy's
    # files hash as the manifest says, so only the folder's type tells.
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    elsewhere = tmp_path / "elsewhere"
    os.rename(out / "targets/dev", elsewhere)
    os.symlink(elsewhere, out / "targets/dev")
    if forge_mtime:
        st = elsewhere.stat()
        os.utime(out / "targets/dev", ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    before = tree(elsewhere)
    (repo / "svc/dev/s0.yaml").write_text("id: 0\nx: 1\n")
    build(repo, out, cache)
    assert tree(elsewhere) == before
    assert not (out / "targets/dev").is_symlink()
    assert tree(out) == clean(repo, tmp_path / "clean")


def test_a_fifo_in_place_of_the_manifest_is_refused_without_waiting(repo: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    (out / "manifest.json").unlink()
    os.mkfifo(out / "manifest.json")  # a plain open() would wait for a writer forever
    with pytest.raises(CfgcError, match="holds no bundle"):  # refused, not waited on
        build(repo, out, cache)
    assert (out / "manifest.json").exists() and (out / "targets").is_dir()  # left as it was
