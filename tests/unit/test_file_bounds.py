"""Every reader of repo, bundle and user files refuses one over MAX_FILE_BYTES, a FIFO and /dev/zero.

The files are sparse (``truncate``): 65 MiB that cost no disk and no time to
make, and that a reader without the bound would read whole (and then parse).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cfgc.base import limits
from cfgc.base.bounded_read import FileTooLarge, NotRegular
from cfgc.base.errors import EXIT_INVALID, InputError, IntegrityError
from tests.fixtures.cli import run
from tests.fixtures.files import OVER, no_hang, sparse

MESSAGE = f"error: file is {OVER} bytes, over the {limits.MAX_FILE_BYTES}-byte limit for one file cfgc reads"


@pytest.mark.parametrize(("command", "rel"), [
    ("build", "cfgc.yaml"),
    ("build", "envs/dev.yaml"),  # a layer
    ("build", "tenants/acme/secrets.enc.yaml"),  # a SOPS layer
    ("build", "schemas/service.json"),
    ("build", "prompts/chat-system/1.1.0.j2"),
    ("validate", "envs/dev.yaml"),
    ("check", "policies/cost.rego"),
])
def test_a_repo_file_over_the_bound_fails_at_its_path(
    example_repo: Path, tmp_path: Path, command: str, rel: str
) -> None:
    sparse(example_repo / rel)
    args = ["--out", str(tmp_path / "out"), "--no-cache"] if command == "build" else []
    with no_hang(60):
        code, out = run(command, "--repo", str(example_repo), *args)
    assert code == EXIT_INVALID, out
    assert f"{rel}: {MESSAGE}" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_fifo_or_dev_zero_layer_fails_without_hanging(example_repo: Path, tmp_path: Path, kind: str) -> None:
    layer = example_repo / "envs" / "dev.yaml"
    layer.unlink()
    if kind == "fifo":
        os.mkfifo(layer)
    else:
        layer.symlink_to("/dev/zero")
    with no_hang(60):
        code, out = run("build", "--repo", str(example_repo), "--out", str(tmp_path / "out"), "--no-cache")
    assert code == EXIT_INVALID, out
    why = "is not a regular file" if kind == "fifo" else "the file is a symbolic link; cfgc does not follow links"
    assert f"envs/dev.yaml: error: {why}" in out


def test_secrets_commands_refuse_a_file_over_the_bound(example_repo: Path) -> None:
    rel = "tenants/acme/secrets.enc.yaml"
    sparse(example_repo / rel)
    code, out = run("secrets", "decrypt", str(example_repo / rel))
    assert code == EXIT_INVALID and MESSAGE in out


def test_sops_creation_rules_over_the_bound(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cfgc.secrets.creation_rules import load_rules

    sparse(example_repo / ".sops.yaml")
    with pytest.raises(FileTooLarge):
        load_rules(example_repo / ".sops.yaml")


def test_the_secrets_scan_skips_a_fifo_and_reports_a_big_file(tmp_path: Path) -> None:
    from cfgc.secrets.walk import scan

    os.mkfifo(tmp_path / "pipe.yaml")  # a read would wait for a writer forever
    sparse(tmp_path / "big.yaml")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    with no_hang():
        found = scan([tmp_path])
    assert found.files == ()
    assert [(s.path.name, s.reason) for s in found.skipped] == [("big.yaml", "larger than 64 MiB, not read")]


def test_bundle_files_read_back_are_bounded(tmp_path: Path) -> None:
    from cfgc.bundle.attest import read_manifest
    from cfgc.bundle.signing import load_envelope, load_verifier

    sparse(tmp_path / "manifest.json")
    with pytest.raises(IntegrityError, match="over the"):  # the bundle's own file: exit 5
        read_manifest(tmp_path)
    sparse(tmp_path / "manifest.sig.json")
    with pytest.raises(IntegrityError, match="over the"):
        load_envelope(tmp_path / "manifest.sig.json")
    os.mkfifo(tmp_path / "key.pem")
    with no_hang(), pytest.raises(NotRegular):
        load_verifier(tmp_path / "key.pem")


def test_a_fifo_in_the_cache_folder_is_not_ours(tmp_path: Path) -> None:
    from cfgc.review.sealed import read_sealed

    os.mkfifo(tmp_path / "diff-records")
    with no_hang(), pytest.raises(ValueError, match="not a regular file"):
        read_sealed(tmp_path / "diff-records", b"magic\n", b"k" * 32, 1000)


def test_an_unreadable_docker_config_is_no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cfgc.stores import oci_auth

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"auths": {}}))
    assert oci_auth._config() == {"auths": {}}
    (tmp_path / "config.json").unlink()
    os.mkfifo(tmp_path / "config.json")
    with no_hang():
        assert oci_auth._config() == {}


def test_the_bound_is_an_input_error() -> None:
    assert issubclass(FileTooLarge, InputError) and issubclass(NotRegular, InputError)
