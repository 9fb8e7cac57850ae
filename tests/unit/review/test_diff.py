"""cfgc diff: compiled targets compared as data, across real git commits."""

from __future__ import annotations

import json
from pathlib import Path

from cfgc.compile.merging import MISSING
from cfgc.review.diff import compare, open_sides
from cfgc.review.report.diff import render_json, render_markdown, render_text, summary
from cfgc.secrets.redact import MARKER
from tests.fixtures.repos import commit_files, git_init

BASE = {
    "base/00-providers.yaml": """\
        providers:
          openai:
            endpoint_url: https://api.openai.com/v1
            timeout_s: 30
        """,
    "base/10-service.yaml": """\
        org:
          domain: llm.example.com
        endpoint: "https://{{ service }}.{{ env }}.{{ config.org.domain }}"
        models:
          primary:
            $extends: providers.openai
            model_id: gpt-4o
        routing:
          default_model: primary
          fallbacks: [primary]
        tags: [a, b]
        """,
    "envs/dev.yaml": "limits:\n  rpm: 60\n",
    "envs/prod.yaml": "limits:\n  rpm: 600\n  burst: 50\n",
    "tenants/acme/tenant.yaml": "owner: acme\n",
    "tenants/acme/dev/chat.yaml": "service: {name: chat}\n",
    "tenants/acme/prod/chat.yaml": "service: {name: chat}\n",
    "tenants/acme/prod/search.yaml": "service: {name: search}\n",
}


def _repo(make_repo, files=None) -> Path:  # type: ignore[no-untyped-def]
    root = make_repo({**BASE, **(files or {})})
    git_init(root)
    return root


def _diff(root: Path, base: str = "HEAD~1", head: str | None = "HEAD", select: str | None = None):  # type: ignore[no-untyped-def]
    b, h = open_sides(root, base, head)
    return compare(b, h, select, base, head or "working tree")


def test_service_change_compiles_only_that_target(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = _repo(make_repo)
    commit_files(root, {"tenants/acme/prod/chat.yaml": "service: {name: chat}\nlimits:\n  rpm: 700\n"})
    result = _diff(root)
    assert result.compiled == 1 and result.total == 3
    [t] = result.targets
    assert (t.name, t.status, t.production) == ("acme/prod/chat", "changed", True)
    [c] = t.changes
    assert (c.path, c.before, c.after, str(c.source)) == (("limits", "rpm"), 600, 700, "tenants/acme/prod/chat.yaml:3:3")


def test_extends_base_change_reaches_extending_mapping(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = _repo(make_repo)
    text = (root / "base/00-providers.yaml").read_text().replace("timeout_s: 30", "timeout_s: 45")
    commit_files(root, {"base/00-providers.yaml": text})
    result = _diff(root)
    assert result.compiled == 3 and len(result.targets) == 3
    changes = {c.path: c for c in result.targets[0].changes}
    inherited = changes[("models", "primary", "timeout_s")]
    assert (inherited.before, inherited.after) == (30, 45)
    assert str(inherited.source) == "base/00-providers.yaml:4:5"


def test_template_change_reaches_rendered_values(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = _repo(make_repo)
    text = (root / "base/10-service.yaml").read_text().replace("llm.example.com", "ai.example.org")
    commit_files(root, {"base/10-service.yaml": text})
    result = _diff(root, select="acme/prod/*")
    assert [t.name for t in result.targets] == ["acme/prod/chat", "acme/prod/search"]
    changes = {c.path: c for c in result.targets[0].changes}
    assert changes[("endpoint",)].before == "https://chat.prod.llm.example.com"
    assert changes[("endpoint",)].after == "https://chat.prod.ai.example.org"
    assert str(changes[("org", "domain")].source) == "base/10-service.yaml:2:3"


def test_merge_tags_across_layers(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = _repo(make_repo)
    commit_files(root, {"envs/prod.yaml": "limits:\n  rpm: 600\n  burst: !delete\ntags: !append [c]\n"
                                     "routing: !replace\n  default_model: primary\n"})
    result = _diff(root)
    assert {t.name for t in result.targets} == {"acme/prod/chat", "acme/prod/search"}
    changes = {c.path: c for c in result.targets[0].changes}
    assert changes[("limits", "burst")].kind == "removed"
    assert changes[("tags",)].before == ["a", "b"] and changes[("tags",)].after == ["a", "b", "c"]
    assert str(changes[("tags",)].source) == "envs/prod.yaml:4:1"
    fb = changes[("routing", "fallbacks")]
    assert fb.kind == "removed" and fb.after is MISSING


def test_added_and_removed_targets_and_config_change(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = _repo(make_repo)
    commit_files(root, {"tenants/acme/dev/search.yaml": "service: {name: search}\n",
                   "tenants/acme/prod/search.yaml": None})
    result = _diff(root)
    assert [(t.name, t.status) for t in result.targets] == [("acme/dev/search", "added"),
                                                             ("acme/prod/search", "removed")]
    assert summary(result)["by_variable"]["env"] == {"dev": 1, "prod": 1}
    cfg = (root / "cfgc.yaml").read_text() + "production: ['*/dev/*']\n"
    commit_files(root, {"cfgc.yaml": cfg})
    result = _diff(root)
    assert result.compiled == 3 and result.targets == ()


def test_working_tree_head_and_no_change(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = _repo(make_repo)
    assert _diff(root, "HEAD", None).targets == ()
    (root / "envs/dev.yaml").write_text("limits:\n  rpm: 61\n")
    result = _diff(root, "HEAD", None)
    assert [t.name for t in result.targets] == ["acme/dev/chat"]
    assert result.head == "working tree"


SOPS_META = """\
sops:
  mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]
  version: 3.9.0
  lastmodified: "{when}"
"""


def _enc(data: str) -> str:
    return f"ENC[AES256_GCM,data:{data},iv:aXZpdml2,tag:dGFndGFn,type:str]"


def test_secret_change_is_one_path_without_value(make_repo) -> None:  # type: ignore[no-untyped-def]
    cfg = (
        "version: 1\nhierarchy:\n  - base/*.yaml\n  - envs/{env}.yaml\n  - tenants/{tenant}/tenant.yaml\n"
        "  - tenants/{tenant}/secrets.enc.yaml\n  - tenants/{tenant}/{env}/{service}.yaml\n"
        'targets: "{tenant}/{env}/{service}"\n'
    )
    secrets = ("api:\n  key: " + _enc("Q0FOQVJZLUNJUEhFUi1PTkU=") + "\n  other: " + _enc("U1RBWUlORy1TQU1F")
               + "\n" + SOPS_META.format(when="2026-01-01T00:00:00Z"))
    root = make_repo({**BASE, "tenants/acme/secrets.enc.yaml": secrets}, config=cfg)
    git_init(root)
    rotated = secrets.replace("Q0FOQVJZLUNJUEhFUi1PTkU=", "Q0FOQVJZLUNJUEhFUi1UV08=").replace(
        "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z").replace("bWFj", "bmV3bWFj")
    commit_files(root, {"tenants/acme/secrets.enc.yaml": rotated})
    result = _diff(root)
    assert len(result.targets) == 3
    for t in result.targets:
        assert [(c.path, c.secret, c.kind) for c in t.changes] == [(("api", "key"), True, "changed")]
        assert str(t.changes[0].source) == "tenants/acme/secrets.enc.yaml:2:3"
    outputs = render_text(result) + render_markdown(result) + render_json(result)
    for canary in ("Q0FOQVJZ", "U1RBWUlO", "\x00", "ENC["):
        assert canary not in outputs
    doc = json.loads(render_json(result))
    [c] = doc["targets"][0]["changes"]
    assert (c["path"], c["kind"], c["secret"], c["redacted"]) == ("api.key", "changed", True, True)
    # The rotation is visible: two different markers, the same in every target.
    assert MARKER.fullmatch(c["before"]) and MARKER.fullmatch(c["after"]) and c["before"] != c["after"]
    assert {t["changes"][0]["after"] for t in doc["targets"]} == {c["after"]}


def test_json_shape(make_repo) -> None:  # type: ignore[no-untyped-def]
    root = _repo(make_repo)
    commit_files(root, {"envs/dev.yaml": "limits:\n  rpm: 61\n"})
    doc = json.loads(render_json(_diff(root)))
    assert doc["targets"] == [{
        "name": "acme/dev/chat", "status": "changed", "vars": {"tenant": "acme", "env": "dev", "service": "chat"},
        "production": False,
        "changes": [{"path": "limits.rpm", "kind": "changed", "before": 60, "after": 61,
                     "source": "envs/dev.yaml:2:3"}]}]
    assert doc["summary"]["changed_targets"] == 1 and doc["summary"]["production"] == []


def test_base_without_the_config_repo_adds_everything(tmp_path: Path) -> None:
    from tests.fixtures.repos import write_files

    (tmp_path / "README").write_text("x\n")
    git_init(tmp_path)
    repo = tmp_path / "config"
    write_files(repo, BASE)
    from tests.fixtures.repos import STANDARD_CONFIG

    (repo / "cfgc.yaml").write_text(STANDARD_CONFIG)
    result = _diff(repo, "HEAD", None)
    assert [t.status for t in result.targets] == ["added"] * 3


def test_fast_path_gives_the_changes_of_the_token_comparison(make_repo, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Subtrees equal as compiled are skipped only when no SOPS file they read changed."""
    import cfgc.review.diff as diff_mod

    cfg = (
        "version: 1\nhierarchy:\n  - base/*.yaml\n  - envs/{env}.yaml\n  - tenants/{tenant}/tenant.yaml\n"
        "  - tenants/{tenant}/secrets.enc.yaml\n  - tenants/{tenant}/{env}/{service}.yaml\n"
        'targets: "{tenant}/{env}/{service}"\n'
    )
    secrets = ("api:\n  key: " + _enc("Q0FOQVJZLUNJUEhFUi1PTkU=") + "\n  other: " + _enc("U1RBWUlORy1TQU1F")
               + "\n" + SOPS_META.format(when="2026-01-01T00:00:00Z"))
    root = make_repo({**BASE, "tenants/acme/secrets.enc.yaml": secrets,
                      "tenants/acme/tenant.yaml": "owner: acme\nlogin: 'user:hunter2hunter2@db'\n"}, config=cfg)
    git_init(root)
    rotated = secrets.replace("Q0FOQVJZLUNJUEhFUi1PTkU=", "Q0FOQVJZLUNJUEhFUi1UV08=").replace("bWFj", "bmV3bWFj")
    # One commit rotates a secret (equal references, other ciphertext); the
    # next changes plain values beside a secret, a string and a number.
    commit_files(root, {"tenants/acme/secrets.enc.yaml": rotated})
    commit_files(root, {"envs/prod.yaml": "limits:\n  rpm: 601\n  burst: 50\nnote: 'hunter2hunter2 rotated'\n",
                        "tenants/acme/dev/chat.yaml": "service: {name: chat}\napi: {extra: 1}\n"})
    cases = [("HEAD~2", "HEAD~1"), ("HEAD~1", "HEAD"), ("HEAD~2", "HEAD")]
    fast = [render_json(_diff(root, b, h)) for b, h in cases]
    calls: list[bool] = []

    def slow(*args: object) -> bool:
        calls.append(True)
        return True  # as if every secret had changed: every subtree through its tokens

    monkeypatch.setattr(diff_mod, "changed_secrets", slow)
    assert [render_json(_diff(root, b, h)) for b, h in cases] == fast
    assert calls  # the slow path did run
    rotation = json.loads(fast[0])["targets"]
    assert {tuple(c["path"] for c in t["changes"]) for t in rotation} == {("api.key",)}
