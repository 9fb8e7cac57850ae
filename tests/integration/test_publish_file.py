"""End to end with the real console script: build --sign-key, publish, change, promote, pull, verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.repos import git, git_init

pytestmark = pytest.mark.integration


def test_ci_flow_on_a_file_store(example_repo: Path, run_cfgc, tmp_path: Path) -> None:
    git_init(example_repo)
    key = tmp_path / "ci"
    assert run_cfgc("keys", "generate", key).returncode == 0
    store = f"file://{tmp_path / 'store'}"
    b1, b2 = tmp_path / "b1", tmp_path / "b2"

    r = run_cfgc("build", "--repo", example_repo, "--out", b1, "--sign-key", f"{key}.key")
    assert r.returncode == 0, r.stderr
    assert (b1 / "manifest.sig.json").is_file() and (b1 / "provenance.intoto.json").is_file()
    assert run_cfgc("verify", b1, "--key", f"{key}.pub").returncode == 0

    r = run_cfgc("publish", b1, "--to", store, "--channel", "staging", "--key", f"{key}.key", "--format", "json")
    assert r.returncode == 0, r.stderr
    v1 = json.loads(r.stdout)
    targets = len(json.loads((b1 / "manifest.json").read_text())["targets"])
    assert sum(u["path"].startswith("targets/") for u in v1["uploaded"]) == targets

    # Same commit, rebuilt: byte-identical bundle, nothing to upload.
    r = run_cfgc("build", "--repo", example_repo, "--out", b2, "--sign-key", f"{key}.key")
    r = run_cfgc("publish", b2, "--to", store, "--format", "json")
    assert json.loads(r.stdout)["counts"]["uploaded"] == 0

    # Change one service, commit, rebuild: one target blob plus the manifests.
    chat = example_repo / "tenants/acme/prod/services/chat.yaml"
    text = chat.read_text()
    assert "timeout_s: 20" in text
    chat.write_text(text.replace("timeout_s: 20", "timeout_s: 21"))
    git(example_repo, "commit", "-qam", "change chat")
    r = run_cfgc("build", "--repo", example_repo, "--out", b2, "--sign-key", f"{key}.key")
    assert r.returncode == 0, r.stderr
    r = run_cfgc("publish", b2, "--to", store, "--channel", "staging", "--key", f"{key}.key", "--format", "json")
    v2 = json.loads(r.stdout)
    assert [u["path"] for u in v2["uploaded"]] == ["manifest.json", "targets/acme/prod/chat.json", "signatures",
                                                   "version manifest"]
    assert v2["channel"]["serial"] == 2

    r = run_cfgc("promote", "--to", store, "--channel", "prod", "--version", v2["version"], "--key", f"{key}.key")
    assert r.returncode == 0 and "serial 1" in r.stdout
    r = run_cfgc("promote", "--to", store, "--channel", "prod", "--version", v1["version"], "--key", f"{key}.key")
    assert r.returncode == 0 and "serial 2" in r.stdout  # rollback: older version, higher serial

    r = run_cfgc("versions", "--from", store)
    lines = r.stdout.splitlines()
    assert lines[0].startswith(v2["version"]) and "staging" in lines[0]
    assert lines[1].startswith(v1["version"]) and "prod" in lines[1]

    out = tmp_path / "pulled"
    r = run_cfgc("pull", "prod", "--from", store, "--out", out, "--key", f"{key}.pub")
    assert r.returncode == 0, r.stderr
    assert run_cfgc("verify", out, "--key", f"{key}.pub").returncode == 0
    assert (out / "manifest.json").read_bytes() == (b1 / "manifest.json").read_bytes()


def test_concurrent_publisher_processes(make_bundle, signing_key, tmp_path: Path) -> None:
    import os
    import subprocess

    from tests.fixtures.repos import cfgc_bin

    store = f"file://{tmp_path / 'store'}"
    bundles = [make_bundle({"a/b/c": {"n": i}}, name=f"p{i}") for i in range(4)]
    procs = [subprocess.Popen([*cfgc_bin(), "publish", str(b), "--to", store, "--channel", "prod",
                               "--key", str(signing_key[0]), "--format", "json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
             for b in bundles]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    reports = [json.loads(out) for out, _ in results]
    assert sorted(r["channel"]["serial"] for r in reports) == [1, 2, 3, 4]
    listed = json.loads(subprocess.run([*cfgc_bin(), "versions", "--from", store, "--format", "json"],
                               capture_output=True, text=True, check=True, timeout=60).stdout)
    assert sorted(v["version"] for v in listed) == sorted(r["version"] for r in reports)
    assert sum(v["channels"] == ["prod"] for v in listed) == 1
