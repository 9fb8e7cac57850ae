import json
from pathlib import Path


def test_explain_lists_layers_last_in_force(run_cfgc, example_repo: Path) -> None:
    proc = run_cfgc("explain", "acme/prod/chat", "models.primary.timeout_s", "--repo", example_repo)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "acme/prod/chat models.primary.timeout_s = 20"
    assert lines[1].strip() == "base/00-providers.yaml:6:5: 30 (via $extends providers.openai)"
    assert lines[2].strip() == "tenants/acme/prod/services/chat.yaml:5:5: 20  <- in force"


def test_explain_json_and_tags(run_cfgc, example_repo: Path) -> None:
    proc = run_cfgc("explain", "acme/prod/chat", "routing.fallbacks", "--repo", example_repo, "--format", "json")
    doc = json.loads(proc.stdout)
    assert doc["value"] == ["fallback", "fast", "fallback_eu"]
    # envs/prod.yaml uses !replace on routing, so base/ no longer contributes
    assert [(c["file"], c["action"]) for c in doc["contributions"]] == [
        ("envs/prod.yaml", "set"),
        ("tenants/acme/prod/services/chat.yaml", "append"),
    ]


def test_explain_deleted_value(run_cfgc, example_repo: Path) -> None:
    proc = run_cfgc("explain", "acme/dev/chat", "limits.burst", "--repo", example_repo)
    assert proc.returncode == 0
    assert "(deleted)" in proc.stdout and "envs/dev.yaml:4:3" in proc.stdout


def test_explain_whole_target_annotates_every_leaf(run_cfgc, example_repo: Path) -> None:
    proc = run_cfgc("explain", "globex/prod/chat", "--repo", example_repo)
    assert proc.returncode == 0
    line = next(line for line in proc.stdout.splitlines() if line.startswith("models.primary.provider"))
    assert line.endswith("# base/00-providers.yaml:14:5")
    line = next(line for line in proc.stdout.splitlines() if line.startswith("models.primary.temperature"))
    assert line.endswith("# tenants/globex/tenant.yaml:11:5")


def test_explain_unknown_target_and_path(run_cfgc, example_repo: Path) -> None:
    proc = run_cfgc("explain", "acme/prod/nope", "--repo", example_repo)
    assert proc.returncode == 1 and "unknown target 'acme/prod/nope'" in proc.stderr
    proc = run_cfgc("explain", "acme/prod/chat", "models.nope", "--repo", example_repo)
    assert proc.returncode == 1 and "has no value at 'models.nope'" in proc.stderr


def test_init_scaffold_compiles(run_cfgc, tmp_path: Path) -> None:
    target = tmp_path / "cfg"
    proc = run_cfgc("init", target)
    assert proc.returncode == 0, proc.stderr
    proc = run_cfgc("build", "--repo", target, "--out", tmp_path / "b")
    assert proc.returncode == 0, proc.stderr
    assert "compiled 2 targets" in proc.stdout
    again = run_cfgc("init", target)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_help_teaches(run_cfgc) -> None:
    proc = run_cfgc("--help")
    assert proc.returncode == 0
    for cmd in ("build", "validate", "explain", "init"):
        assert cmd in proc.stdout
    assert "Exit codes" in proc.stdout
    proc = run_cfgc("build", "--help")
    assert "Examples:" in proc.stdout and "--ref" in proc.stdout
