"""Target keys cover every input of a compile: an edit to any file a target reads
changes its key, an edit to a file it does not read leaves the key alone, and a
commit's blobs key a target exactly as the same files on disk do."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfgc.bundle.target_keys import TargetKeys, content_digest, global_key
from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import DirSource, GitSource, Source
from tests.fixtures.repos import git_init


def keys(source: Source) -> dict[str, str]:
    compiler = Compiler(source)
    tk = TargetKeys(global_key(compiler), content_digest(source))
    return {s.name: tk.key(s) for s in compiler.specs()}


def readers(root: Path, path: str) -> set[str]:
    """The targets whose compile reads ``path`` as a layer."""
    return {s.name for s in Compiler(DirSource(root)).specs() if path in s.layers}


def _append(root: Path, path: str, text: str) -> None:
    with open(root / path, "a") as f:
        f.write(text)


@pytest.mark.parametrize(
    ("path", "edit"),
    [
        ("tenants/acme/prod/services/chat.yaml", "\nextra_key: 1\n"),  # one service file
        ("tenants/acme/prod/env.yaml", "\n# a comment changes the bytes, so the key\n"),
        ("tenants/acme/secrets.enc.yaml", "\n# rotated\n"),  # SOPS document: the ciphertext is keyed
        ("envs/prod.yaml", "\nextra_key: 2\n"),
    ],
)
def test_a_layer_edit_changes_exactly_the_keys_of_its_readers(example_repo: Path, path: str, edit: str) -> None:
    before = keys(DirSource(example_repo))
    _append(example_repo, path, edit)
    after = keys(DirSource(example_repo))
    changed = {n for n in before if before[n] != after[n]}
    assert changed == readers(example_repo, path) != set()


@pytest.mark.parametrize(
    "path",
    ["cfgc.yaml", "schemas/service.json", "schemas/model.json", "prompts/summarize/1.0.0.j2"],
)
def test_a_global_input_changes_every_key(example_repo: Path, path: str) -> None:
    before = keys(DirSource(example_repo))
    _append(example_repo, path, "\n" if path.endswith(".json") else "\n# edited\n")
    after = keys(DirSource(example_repo))
    assert all(before[n] != after[n] for n in before)


def test_a_file_no_compile_reads_changes_no_key(example_repo: Path) -> None:
    before = keys(DirSource(example_repo))
    (example_repo / "prompts/README.md").write_text("how to add a prompt\n")
    (example_repo / "prompts/summarize/notes.txt").write_text("not a template\n")
    assert keys(DirSource(example_repo)) == before


def test_a_commit_keys_its_targets_as_the_same_files_on_disk(example_repo: Path) -> None:
    commit = git_init(example_repo)
    on_disk = keys(DirSource(example_repo))
    assert keys(GitSource(example_repo, commit)) == on_disk
    _append(example_repo, "tenants/globex/tenant.yaml", "\nextra_key: 3\n")
    moved = keys(DirSource(example_repo))
    assert keys(GitSource(example_repo, commit)) != moved


def test_one_template_cannot_pass_for_two(example_repo: Path, tmp_path: Path) -> None:
    # A template may hold NULs: unframed, one file whose bytes embed the next
    # file's header would hash like two files, and a library without version
    # 2.1.0 would be served what was checked with it.
    import shutil

    two = tmp_path / "two"
    shutil.copytree(example_repo, two)
    first = (two / "prompts/summarize/2.0.0.j2").read_bytes()
    (two / "prompts/summarize/2.1.0.j2").write_bytes(b"second")
    one = tmp_path / "one"
    shutil.copytree(example_repo, one)
    (one / "prompts/summarize/2.0.0.j2").write_bytes(first + b"\0prompt\0prompts/summarize/2.1.0.j2\0second")
    assert global_key(Compiler(DirSource(one))) != global_key(Compiler(DirSource(two)))
