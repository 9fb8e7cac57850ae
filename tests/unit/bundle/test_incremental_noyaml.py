"""An in-place rebuild of one service file of the example repo (SOPS files, .sops.yaml with age
keys, a base file with Jinja2 filters in quoted values) imports neither PyYAML nor pyrage, and
what it takes from the --out state instead gives the same bundle and the same errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cfgc
from cfgc.base.errors import CfgcError
from cfgc.repo import config as config_mod
from cfgc.repo.sources import DirSource
from cfgc.secrets import creation_rules
from tests.unit.bundle.test_incremental import clean, tree

ROOT = Path(__file__).resolve().parents[3]
CODE = (
    "import sys, cfgc; r = cfgc.build_bundle(sys.argv[1], sys.argv[2], cache=sys.argv[3], jobs=1); "
    "print(r.unchanged, *(m in sys.modules for m in ('yaml', 'pyrage')))"
)
SERVICE = "tenants/acme/dev/services/chat.yaml"


@pytest.fixture(autouse=True)
def fresh_kept() -> None:
    """This process's kept values start empty: a store filled by earlier tests (16 entries, then
    nothing new) would leave the example's SOPS file out of the state the first build writes."""
    from cfgc.base.loading import CAREFUL
    from cfgc.compile.template_kept import KEPT
    from cfgc.repo.config import MARKS
    from cfgc.secrets.creation_rules import PARSED

    for kept in (CAREFUL, MARKS, PARSED, KEPT):
        kept.clear()


@pytest.fixture
def example(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "examples/repo", repo, ignore=shutil.ignore_patterns("test-keys-DO-NOT-USE"))
    return repo


def rebuild(repo: Path, out: Path, cache: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(cfgc.__file__).parents[1]), "CFGC_JOBS": "1"}
    done = subprocess.run([sys.executable, "-c", CODE, str(repo), str(out), str(cache)],
                          capture_output=True, text=True, env=env, check=True)
    return done.stdout.split()


def test_a_changed_service_file_is_rebuilt_without_pyyaml_or_pyrage(example: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    cfgc.build_bundle(example, out, cache=cache, jobs=1)
    for v in (1, 2):  # the second run reads the state the first in-place build wrote
        with open(example / SERVICE, "a") as f:
            f.write(f"marker_{v}: {v}\n")
        assert rebuild(example, out, cache) == ["False", "False", "False"]  # rebuilt; no yaml, no pyrage
        assert tree(out) == clean(example, tmp_path / "clean")


def test_a_changed_sops_yaml_is_parsed_again(example: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    cfgc.build_bundle(example, out, cache=cache, jobs=1)
    text = (example / ".sops.yaml").read_text()
    (example / ".sops.yaml").write_text(text.replace("creation_rules:", "creation_rules:\n  - path_regex: ^nothing$\n"
                                                     "    age: age1notarecipient", 1))
    with open(example / SERVICE, "a") as f:
        f.write("marker: 1\n")
    env = {**os.environ, "PYTHONPATH": str(Path(cfgc.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-m", "cfgc", "build", "--repo", str(example), "--out", str(out),
                           "--cache-dir", str(cache)], capture_output=True, text=True, env=env)
    fresh = subprocess.run([sys.executable, "-m", "cfgc", "build", "--repo", str(example), "--out",
                            str(tmp_path / "fresh"), "--no-cache"], capture_output=True, text=True, env=env)
    assert (done.returncode, done.stderr) == (fresh.returncode, fresh.stderr)


def test_kept_sops_values_are_used_only_for_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(creation_rules.PARSED, "_by", {})
    a = b"creation_rules:\n  - path_regex: a/.*\n    kms: arn:aws:kms:us-east-1:1:key/a\n"
    b = b"creation_rules:\n  - path_regex: b/.*\n    kms: arn:aws:kms:us-east-1:1:key/b\n"
    want_a, want_b = creation_rules.parse_rules(a), creation_rules.parse_rules(b)
    kept = creation_rules.PARSED.kept(lambda d: True)
    monkeypatch.setattr(creation_rules.PARSED, "_by", {})
    creation_rules.PARSED.assume(kept)
    monkeypatch.setitem(sys.modules, "yaml", None)  # importing PyYAML now fails: nothing may parse
    assert creation_rules.parse_rules(a) == want_a and creation_rules.parse_rules(b) == want_b
    with pytest.raises(ImportError):
        creation_rules.parse_rules(a + b"# changed\n")


@pytest.mark.parametrize("broken", [None, ("version: 1", "version: 2"), ("targets:", "targetz:")])
def test_kept_cfgc_yaml_positions_give_the_same_config_and_errors(
    example: Path, monkeypatch: pytest.MonkeyPatch, broken: tuple[str, str] | None
) -> None:
    if broken:
        path = example / "cfgc.yaml"
        path.write_text(path.read_text().replace(*broken, 1))
    monkeypatch.setattr(config_mod.MARKS, "_by", {})

    def outcome() -> object:
        try:
            c = config_mod.load_config(DirSource(example))
        except CfgcError as e:
            return ("error", str(e))
        return ("ok", c, sorted(c.document.marks.items(), key=repr))

    careful = outcome()
    assert config_mod.MARKS.kept(lambda d: True)  # kept, even for a file whose schema is wrong
    monkeypatch.setitem(sys.modules, "yaml", None)
    assert outcome() == careful
