"""The public API: what the commands call, so it must give what they give."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

import cfgc
from tests.fixtures.repos import git_init

HEAVY = ("jinja2", "boto3", "regopy", "jsonschema_rs", "cryptography", "cfgc.api", "cfgc.bundle.pipeline")


def test_import_cfgc_loads_no_heavy_module() -> None:
    code = f"import sys, cfgc; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_exported_name_resolves() -> None:
    for name in cfgc.__all__:
        assert getattr(cfgc, name) is not None, name
        assert name in dir(cfgc)
    with pytest.raises(AttributeError, match="no attribute 'compile_everything'"):
        cfgc.compile_everything  # noqa: B018 - not exported


def test_the_package_exports_every_api_name_lazily() -> None:
    """cfgc/__init__.py repeats cfgc.api's list (importing it would make ``import cfgc`` heavy): keep them one."""
    import cfgc.api

    assert set(cfgc.api.__all__) <= set(cfgc.__all__)
    for name in cfgc.api.__all__:
        assert getattr(cfgc, name) is getattr(cfgc.api, name), name


def test_compile_repo_gives_what_the_bundle_holds(example_repo: Path, tmp_path: Path) -> None:
    config = cfgc.compile_repo(example_repo)
    built = cfgc.build_bundle(example_repo, tmp_path / "b", cache=False)
    manifest = json.loads((built.out / "manifest.json").read_bytes())
    assert config.names == built.targets and len(config) == len(manifest["targets"]) > 1
    for target in config:
        raw = (built.out / "targets" / f"{target.name}.json").read_bytes()
        assert json.loads(raw) == json.loads(json.dumps(target.value))
        assert target.digest == manifest["targets"][target.name]["digest"]
    assert dict(config["acme/prod/chat"].vars) == {"tenant": "acme", "env": "prod", "service": "chat"}


def test_results_are_frozen(example_repo: Path, tmp_path: Path) -> None:
    config = cfgc.compile_repo(example_repo, targets="acme/prod/*")
    target = config["acme/prod/chat"]
    for obj, field in [(config, "targets"), (target, "value"),
                       (cfgc.validate(example_repo, cache=False), "diagnostics"),
                       (cfgc.build_bundle(example_repo, tmp_path / "b", cache=False), "digest")]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, field, None)
    with pytest.raises(TypeError):
        target.value["models"]["primary"]["timeout_s"] = 1
    with pytest.raises(TypeError):
        target.vars["env"] = "dev"  # type: ignore[index]
    assert isinstance(target.get("routing.fallbacks"), tuple)


def test_provenance_names_the_layer_in_force(example_repo: Path) -> None:
    target = cfgc.compile_repo(example_repo)["acme/prod/chat"]
    assert str(target.source("models.primary.timeout_s")).startswith("tenants/acme/prod/services/chat.yaml:")
    ex = target.explain("models.primary.timeout_s")
    assert ex.value == target.get("models.primary.timeout_s") and len(ex.contributions) >= 2
    direct = cfgc.explain_value(example_repo, "acme/prod/chat", "models.primary.timeout_s")
    assert direct == ex
    leaves = {leaf.path: leaf for leaf in cfgc.explain_target(example_repo, "acme/prod/chat")}
    assert leaves["models.primary.timeout_s"].location == target.source("models.primary.timeout_s")


def _break(repo: Path) -> None:
    layer = repo / "tenants/acme/prod/services/chat.yaml"
    layer.write_text(layer.read_text().replace("timeout_s: 20", "timeout_s: soon"))


def test_invalid_config_raises_with_every_finding(example_repo: Path, tmp_path: Path) -> None:
    _break(example_repo)
    with pytest.raises(cfgc.InvalidConfig) as caught:
        cfgc.compile_repo(example_repo)
    err = caught.value
    assert isinstance(err, cfgc.CfgcError) and err.exit_code == 1
    assert any(d.location and d.location.path.endswith("prod/services/chat.yaml") for d in err.diagnostics)
    assert "acme/prod/chat" not in err.targets and "acme/dev/chat" in err.targets
    assert str(err).splitlines()[0].startswith("tenants/acme/prod/services/chat.yaml:")
    result = cfgc.validate(example_repo, cache=False)  # validate reports, never raises
    assert not result.ok and result.diagnostics == err.diagnostics
    out = tmp_path / "bundle"
    with pytest.raises(cfgc.InvalidConfig):
        cfgc.build_bundle(example_repo, out, cache=False)
    assert not out.exists()


@pytest.mark.parametrize(("call", "kind", "code"), [
    (lambda r: cfgc.compile_repo(r, targets="nobody/*"), cfgc.UsageError, 2),
    (lambda r: cfgc.explain_value(r, "acme/prod/chatt", "models"), cfgc.InputError, 1),
    (lambda r: cfgc.explain_value(r, "acme/prod/chat", "models.nothing"), cfgc.InputError, 1),
    (lambda r: cfgc.compile_repo(r)["acme/nope/chat"], cfgc.UsageError, 2),
    (lambda r: cfgc.compile_repo(r / "tenants"), cfgc.UsageError, 2),
    (lambda r: cfgc.compile_repo(r, ref="no-such-ref"), cfgc.UsageError, 2),
])
def test_errors_are_cfgc_errors_with_exit_codes(example_repo: Path, call, kind, code) -> None:
    git_init(example_repo)
    with pytest.raises(kind) as caught:
        call(example_repo)
    assert isinstance(caught.value, cfgc.CfgcError) and caught.value.exit_code == code
    if "chatt" in str(caught.value):
        assert "did you mean" in str(caught.value)


def test_api_build_is_byte_identical_to_the_cli(example_repo: Path, tmp_path: Path, run_cfgc) -> None:
    git_init(example_repo)
    proc = run_cfgc("build", "--repo", example_repo, "--out", tmp_path / "cli", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    api = cfgc.build_bundle(example_repo, tmp_path / "api", cache=tmp_path / "cache")
    files = sorted(p.relative_to(tmp_path / "cli") for p in (tmp_path / "cli").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(api.out) for p in api.out.rglob("*") if p.is_file())
    for rel in files:
        assert (tmp_path / "cli" / rel).read_bytes() == (api.out / rel).read_bytes(), rel
    assert api.digest[:19] in proc.stdout and not api.signed


def test_diff_and_check_between_refs(example_repo: Path) -> None:
    git_init(example_repo)
    _change = example_repo / "envs/prod.yaml"
    _change.write_text(_change.read_text().replace("sample_rate: 0.05", "sample_rate: 0.5"))
    d = cfgc.diff_refs(example_repo, base="HEAD")
    assert {t.name for t in d.targets} == {n for n in cfgc.compile_repo(example_repo).names if "/prod/" in n}
    assert all(c.after == 0.5 and c.before == 0.05 for t in d.targets for c in t.changes)
    assert d.changed_files == ("envs/prod.yaml",)
    checked = cfgc.check(example_repo, base="HEAD")
    assert checked.changed == frozenset(t.name for t in d.targets)
    assert len(checked.states) == len(checked.diagnostics)
    assert cfgc.diff_refs(example_repo, base="HEAD", head="HEAD").targets == ()


def test_pull_a_target_and_a_bundle(example_repo: Path, tmp_path: Path, signing_key) -> None:
    from cfgc.bundle.signing import load_signer
    from cfgc.stores import open_store
    from cfgc.stores.publish import publish

    signer = load_signer(signing_key[0])
    built = cfgc.build_bundle(example_repo, tmp_path / "b", sign_key=signing_key[0], cache=False)
    assert built.signed
    url = f"file://{tmp_path / 'store'}"
    report = publish(open_store(url), built.out, "prod", [signer])
    want = json.loads((built.out / "targets/acme/prod/chat.json").read_bytes())
    seen: list[cfgc.PullResult] = []
    for ref in (report.version, "prod"):
        got = cfgc.pull(url, ref, target="acme/prod/chat", out=tmp_path / ref, keys=[signing_key[1]],
                        decrypt=False, on_written=seen.append)
        assert got.version == report.version and got.verified and got.warning is None
        assert json.loads(json.dumps(got.value)) == want
        assert (got.out / "manifest.json").read_bytes() == (built.out / "manifest.json").read_bytes()
    assert [s.version for s in seen] == [report.version] * 2
    with pytest.raises(cfgc.UsageError):
        cfgc.pull(url, "prod", target="acme/prod/chat")  # a target needs keys
    other = cfgc.build_bundle(example_repo, tmp_path / "b2", sign_key=signing_key[0], cache=False)
    assert other.digest == built.digest  # byte-identical rebuild
