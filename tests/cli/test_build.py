import json
import os
from pathlib import Path

from cfgc.base.canonical import canonical_json, sha256_digest
from tests.fixtures.repos import git, git_init


def test_build_example_repo_writes_bundle(run_cfgc, tmp_path: Path, example_repo: Path) -> None:
    out = tmp_path / "bundle"
    proc = run_cfgc("build", "--repo", example_repo, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "compiled 13 targets" in proc.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "cfgc.bundle/v1"
    assert set(manifest["targets"]) >= {"acme/prod/chat", "globex/dev/support"}
    for name, entry in manifest["targets"].items():
        data = (out / "targets" / f"{name}.json").read_bytes()
        assert entry["digest"] == sha256_digest(data)
        assert data == canonical_json(json.loads(data))
    chat = json.loads((out / "targets/acme/prod/chat.json").read_text())
    assert chat["models"]["primary"]["timeout_s"] == 20
    assert chat["routing"]["fallbacks"] == ["fallback", "fast", "fallback_eu"]
    assert chat["prompts"]["system"] == "chat-system@1.1.0"
    assert (out / "prompts/chat-system/1.1.0.j2").is_file()
    assert manifest["prompts"]["chat-system@1.1.0"]["variables"] == ["product", "tenant"]


def test_build_is_byte_identical_across_runs_and_checkouts(run_cfgc, tmp_path: Path, example_repo: Path) -> None:
    git_init(example_repo)
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cfgc("build", "--repo", example_repo, "--out", a).returncode == 0
    os.utime(example_repo / "cfgc.yaml", (0, 0))  # mtimes must not matter
    assert run_cfgc("build", "--ref", "HEAD", "--repo", example_repo, "--out", b).returncode == 0
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    source = json.loads((a / "manifest.json").read_text())["source"]
    assert source["commit"] == git(example_repo, "rev-parse", "HEAD")
    assert source["commit_time"] == "2026-01-01T00:00:00Z"
    assert source["dirty"] is False


def test_build_ref_reads_git_objects_not_the_worktree(run_cfgc, tmp_path: Path, example_repo: Path) -> None:
    git_init(example_repo)
    svc = example_repo / "tenants/acme/prod/services/chat.yaml"
    svc.write_text(svc.read_text().replace("timeout_s: 20", "timeout_s: 25"))
    head, work = tmp_path / "head", tmp_path / "work"
    assert run_cfgc("build", "--repo", example_repo, "--ref", "HEAD", "--out", head).returncode == 0
    assert run_cfgc("build", "--repo", example_repo, "--out", work).returncode == 0
    t_head = json.loads((head / "targets/acme/prod/chat.json").read_text())
    t_work = json.loads((work / "targets/acme/prod/chat.json").read_text())
    assert t_head["models"]["primary"]["timeout_s"] == 20
    assert t_work["models"]["primary"]["timeout_s"] == 25
    assert json.loads((work / "manifest.json").read_text())["source"]["dirty"] is True


def test_failed_build_leaves_previous_bundle(run_cfgc, tmp_path: Path, example_repo: Path) -> None:
    out = tmp_path / "bundle"
    assert run_cfgc("build", "--repo", example_repo, "--out", out).returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (example_repo / "envs/prod.yaml").write_text("service:\n  tier: platinum\n")
    proc = run_cfgc("build", "--repo", example_repo, "--out", out)
    assert proc.returncode == 1
    assert "envs/prod.yaml:2:3: error: service.tier" in proc.stderr
    assert "nothing written" in proc.stderr
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_target_glob_selects(run_cfgc, tmp_path: Path, example_repo: Path) -> None:
    out = tmp_path / "b"
    proc = run_cfgc("build", "--repo", example_repo, "--out", out, "--target", "globex/prod/*", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["targets"] == ["globex/prod/chat", "globex/prod/support"]
    assert sorted(json.loads((out / "manifest.json").read_text())["targets"]) == doc["targets"]


def test_repo_is_found_by_walking_up(run_cfgc, tmp_path: Path, example_repo: Path) -> None:
    proc = run_cfgc("validate", cwd=example_repo / "tenants" / "acme")
    assert proc.returncode == 0, proc.stderr
    assert "ok: 13 targets valid" in proc.stdout


def test_no_repo_is_a_usage_error(run_cfgc, tmp_path: Path) -> None:
    proc = run_cfgc("validate", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no cfgc.yaml found" in proc.stderr


def test_refuses_to_replace_a_non_bundle_directory(run_cfgc, tmp_path: Path, example_repo: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    proc = run_cfgc("build", "--repo", example_repo, "--out", out)
    assert proc.returncode == 2
    assert (out / "notes.txt").read_text() == "keep me"


def test_unknown_ref_is_a_usage_error(run_cfgc, tmp_path: Path, example_repo: Path) -> None:
    git_init(example_repo)
    proc = run_cfgc("build", "--repo", example_repo, "--ref", "no-such-branch", "--out", tmp_path / "x")
    assert proc.returncode == 2
    assert "--ref no-such-branch: unknown revision 'no-such-branch'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_usage_errors_exit_2(run_cfgc) -> None:
    proc = run_cfgc("build", "--format", "xml")
    assert proc.returncode == 2
    proc = run_cfgc("no-such-command")
    assert proc.returncode == 2


def test_example_bundle_carries_no_plaintext_secret(run_cfgc, tmp_path: Path, example_repo: Path) -> None:
    """The example tenants' secrets (canaries contain 'CANARY') ship encrypted only."""
    out = tmp_path / "bundle"
    proc = run_cfgc("build", "--repo", example_repo, "--out", out, env={"SOPS_AGE_KEY_FILE": "", "SOPS_AGE_KEY": ""})
    assert proc.returncode == 0, proc.stderr
    assert "CANARY" not in proc.stdout + proc.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "secrets.enc.yaml" for p in files)
    for p in files:
        assert b"CANARY" not in p.read_bytes(), p
    chat = json.loads((out / "targets/acme/prod/chat.json").read_text())
    ref = chat["models"]["primary"]["api_key"]["$secret"]
    assert ref["file"] == "tenants/acme/secrets.enc.yaml" and ref["type"] == "str"
    explain = run_cfgc("explain", "acme/prod/chat", "--repo", example_repo)
    assert explain.returncode == 0 and "CANARY" not in explain.stdout
