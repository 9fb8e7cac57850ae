"""``cfgc build --shard I/N`` + ``cfgc bundle merge``: byte-identical to a single build, and strict about parts.

Runs the real console script on the example repo and on a generated corpus
(600 targets: the whole build compiles on several processes, each shard
in one), and compares every byte of the merged bundle with ``cfgc build``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.repos import EXAMPLE, ROOT, git, git_init


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _shards(run_cfgc, repo: Path, tmp: Path, n: int, *extra: str) -> list[Path]:  # type: ignore[no-untyped-def]
    parts = []
    for i in range(1, n + 1):
        part = tmp / f"part-{i}"
        _ok(run_cfgc("build", "--repo", repo, "--shard", f"{i}/{n}", "--out", part, "--no-cache", *extra))
        parts.append(part)
    return parts


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("corpus") / "repo"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "corpus.py"), "--targets", "600", "--seed", "5",
                    "--git", str(repo)], check=True, capture_output=True)
    return repo


@pytest.fixture
def example(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    git_init(repo)
    return repo


@pytest.mark.parametrize("n", [1, 3, 20])  # 20 shards of 13 targets: some parts are empty
def test_merged_example_is_byte_identical_to_a_single_build(example: Path, tmp_path: Path, run_cfgc, n: int) -> None:  # type: ignore[no-untyped-def]
    _ok(run_cfgc("build", "--repo", example, "--out", tmp_path / "whole", "--no-cache"))
    parts = _shards(run_cfgc, example, tmp_path, n)
    merged = _ok(run_cfgc("bundle", "merge", *reversed(parts), "--out", tmp_path / "merged", "--format", "json"))
    assert _tree(tmp_path / "merged") == _tree(tmp_path / "whole")
    whole_digest = "sha256:" + hashlib.sha256((tmp_path / "whole" / "manifest.json").read_bytes()).hexdigest()
    assert json.loads(merged.stdout)["manifest_digest"] == whole_digest
    counts = [len(json.loads((p / "part.json").read_bytes())["manifest"]["targets"]) for p in parts]
    assert sum(counts) == len(json.loads((tmp_path / "whole" / "manifest.json").read_bytes())["targets"])


def test_merged_corpus_is_byte_identical_and_signs_and_verifies(corpus: Path, tmp_path: Path, run_cfgc) -> None:  # type: ignore[no-untyped-def]
    _ok(run_cfgc("build", "--repo", corpus, "--out", tmp_path / "whole", "--no-cache", "--jobs", "2"))
    # Shards with the build cache (warm for the second run) give the same bytes as cold ones.
    cache = ["--cache-dir", str(tmp_path / "cache")]
    parts = [tmp_path / f"p{i}" for i in range(1, 4)]
    for _ in range(2):
        for i, part in enumerate(parts, 1):
            _ok(run_cfgc("build", "--repo", corpus, "--shard", f"{i}/3", "--out", part, *cache))
        _ok(run_cfgc("bundle", "merge", *parts, "--out", tmp_path / "merged"))
        assert _tree(tmp_path / "merged") == _tree(tmp_path / "whole")
    _ok(run_cfgc("keys", "generate", tmp_path / "ci"))
    _ok(run_cfgc("sign", tmp_path / "merged", "--key", tmp_path / "ci.key"))
    _ok(run_cfgc("verify", tmp_path / "merged", "--key", tmp_path / "ci.pub"))


def test_target_selection_is_sharded_and_recorded(example: Path, tmp_path: Path, run_cfgc) -> None:  # type: ignore[no-untyped-def]
    _ok(run_cfgc("build", "--repo", example, "--target", "acme/*/*", "--out", tmp_path / "whole"))
    parts = _shards(run_cfgc, example, tmp_path, 2, "--target", "acme/*/*")
    _ok(run_cfgc("bundle", "merge", *parts, "--out", tmp_path / "merged"))
    assert _tree(tmp_path / "merged") == _tree(tmp_path / "whole")
    other = tmp_path / "other"
    _ok(run_cfgc("build", "--repo", example, "--shard", "2/2", "--out", other))  # no --target
    bad = run_cfgc("bundle", "merge", parts[0], other, "--out", tmp_path / "merged")
    assert bad.returncode == 2 and "--target selection" in bad.stderr


def _part(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((path / "part.json").read_bytes())


def _write(path: Path, doc: dict) -> None:  # type: ignore[type-arg]
    (path / "part.json").write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")))


def test_mismatched_missing_and_repeated_parts_are_refused(example: Path, tmp_path: Path, run_cfgc) -> None:  # type: ignore[no-untyped-def]
    parts = _shards(run_cfgc, example, tmp_path, 3)
    _ok(run_cfgc("build", "--repo", example, "--out", tmp_path / "prev"))
    out = tmp_path / "prev"
    before = _tree(out)
    # Another commit: same shard count, other source.
    (example / "base" / "extra.yaml").write_text("defaults: {}\n")
    git(example, "add", "-A")
    git(example, "commit", "-q", "-m", "second")
    newer = tmp_path / "newer"
    _ok(run_cfgc("build", "--repo", example, "--shard", "3/3", "--out", newer))
    four = tmp_path / "four"
    _ok(run_cfgc("build", "--repo", example, "--shard", "3/4", "--out", four))
    cases = [
        ((parts[0], parts[1], newer), 2, "differ in source commit"),
        ((parts[0], parts[1]), 2, "shard 3/3 missing"),
        ((parts[0], parts[1], parts[1], parts[2]), 2, "shard 2/3 given twice"),
        ((parts[0], parts[1], four), 2, "differ in"),
        ((example,), 2, "is not a bundle part"),
        ((), 2, "Missing argument"),
    ]
    for args, code, says in cases:
        proc = run_cfgc("bundle", "merge", *args, "--out", out)
        assert proc.returncode == code and says in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert _tree(out) == before  # a failed merge leaves --out as it was


def test_tampered_parts_exit_5_and_leave_out_intact(example: Path, tmp_path: Path, run_cfgc) -> None:  # type: ignore[no-untyped-def]
    good = _shards(run_cfgc, example, tmp_path, 2)
    _ok(run_cfgc("build", "--repo", example, "--out", tmp_path / "out"))
    before = _tree(tmp_path / "out")
    doc = _part(good[1])
    name = sorted(doc["manifest"]["targets"])[0]

    def altered(label: str) -> Path:
        p = tmp_path / label
        shutil.copytree(good[1], p)
        return p

    cases: list[tuple[Path, str]] = []
    p = altered("file")  # a target's bytes changed, part.json not
    f = p / "targets" / f"{name}.json"
    f.write_bytes(f.read_bytes().replace(b'"', b"'", 1))
    cases.append((p, "digest"))
    p = altered("extra")  # a file part.json does not list
    (p / "targets" / "evil.json").write_text("{}")
    cases.append((p, "not listed in part.json"))
    p = altered("dropped")  # a target removed from both part.json and the files
    d = _part(p)
    del d["manifest"]["targets"][name]
    (p / "targets" / f"{name}.json").unlink()
    _write(p, d)
    cases.append((p, "the build selected"))
    p = altered("moved")  # a target of shard 1 claimed by shard 2, so shard 1 would lose it
    d = _part(p)
    first = _part(good[0])
    stolen = sorted(first["manifest"]["targets"])[0]
    d["manifest"]["targets"][stolen] = first["manifest"]["targets"][stolen]
    shutil.copy(good[0] / "targets" / f"{stolen}.json", p / "targets" / f"{stolen}.json")
    _write(p, d)
    cases.append((p, "belongs to shard 1/2"))
    p = altered("json")
    (p / "part.json").write_text("{not json")
    cases.append((p, "not the JSON cfgc writes"))
    for part, says in cases:
        proc = run_cfgc("bundle", "merge", good[0], part, "--out", tmp_path / "out")
        assert proc.returncode == 5 and says in proc.stderr, (part.name, proc.stderr)
        assert _tree(tmp_path / "out") == before


def test_shard_refuses_a_signing_key_and_bad_syntax(example: Path, tmp_path: Path, run_cfgc) -> None:  # type: ignore[no-untyped-def]
    _ok(run_cfgc("keys", "generate", tmp_path / "k"))
    proc = run_cfgc("build", "--repo", example, "--shard", "1/2", "--sign-key", tmp_path / "k.key",
                    "--out", tmp_path / "p")
    assert proc.returncode == 2 and "sign the merged bundle" in proc.stderr
    proc = run_cfgc("build", "--repo", example, "--shard", "two", "--out", tmp_path / "p")
    assert proc.returncode == 2 and "expected I/N" in proc.stderr
    assert not (tmp_path / "p").exists()


def test_example_workflow_builds_every_shard_and_merges_them_without_a_checkout() -> None:
    import yaml

    wf = yaml.safe_load((ROOT / ".github/workflows/config-repo-sharded-example.yml").read_text())
    build, release = wf["jobs"]["build"], wf["jobs"]["release"]
    shards = build["strategy"]["matrix"]["shard"]
    run = next(s["run"] for s in build["steps"] if "--shard" in s.get("run", ""))
    assert shards == list(range(1, len(shards) + 1)) and f'--shard "$SHARD/{len(shards)}"' in run
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    download = next(s for s in release["steps"] if s.get("uses", "").startswith("actions/download-artifact@"))
    assert upload["with"]["name"].startswith(download["with"]["pattern"].rstrip("*"))
    steps = [s.get("run", "") for s in release["steps"]]
    merge, sign = (next(i for i, r in enumerate(steps) if w in r) for w in ("cfgc bundle merge", "cfgc sign"))
    assert release["needs"] == "build" and merge < sign
    # The job holding the OIDC token and the signing key runs no code from the repo.
    assert not any(s.get("uses", "").startswith("actions/checkout@") for s in release["steps"])
