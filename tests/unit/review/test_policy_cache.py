"""Rego results kept between check runs: reused only for the same input and policies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cfgc.repo.sources import DirSource
from cfgc.review import policy as policy_mod
from cfgc.review.checks import run_checks
from cfgc.review.policy_cache import FILE_NAME, MAGIC
from tests.fixtures.repos import STANDARD_CONFIG
from tests.unit.review.sealed_damage import DAMAGES, damaged

POLICIES = Path(__file__).resolve().parents[2] / "data" / "policies"
FILES = {
    "base/a.yaml": "owner: platform\nlimits:\n  rpm: 600\n",
    "envs/prod.yaml": "limits:\n  burst: 5\n",
    "envs/dev.yaml": "{}\n",
    "tenants/acme/tenant.yaml": "{}\n",
    "tenants/acme/prod/chat.yaml": "limits:\n  rpm: 50\n",
    "tenants/acme/dev/chat.yaml": "owner: !delete\n",
}


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The inputs the Rego interpreter is really asked about."""
    asked: list[str] = []
    real = policy_mod.PolicySet._query

    def query(self: policy_mod.PolicySet, text: str) -> object:
        asked.append(text)
        return real(self, text)

    monkeypatch.setattr(policy_mod.PolicySet, "_query", query)
    return asked


def _repo(make_repo) -> Path:  # type: ignore[no-untyped-def]
    root = make_repo(FILES, config=STANDARD_CONFIG + "policies: policies/\n")
    (root / "policies").mkdir()
    shutil.copy(POLICIES / "limits.rego", root / "policies" / "limits.rego")
    return root


def _found(root: Path, cache: Path) -> list[tuple[str, str, str]]:
    result = run_checks(DirSource(root), cache=cache)
    return [(d.severity, d.message, str(d.location)) for d in result.diagnostics]


def test_results_are_reused_only_for_the_same_input_and_policies(make_repo, tmp_path, counted) -> None:  # type: ignore[no-untyped-def]
    root, cache = _repo(make_repo), tmp_path / "cache"
    first = _found(root, cache)
    assert len(counted) == 2 and any(s == "error" for s, _, _ in first)  # the policy does find something
    assert _found(root, cache) == first and len(counted) == 2  # nothing asked again
    assert _found(root, tmp_path / "other") == first and len(counted) == 4  # another cache: asked again

    (root / "tenants/acme/prod/chat.yaml").write_text("limits:\n  rpm: 51\n")
    second = _found(root, cache)
    assert len(counted) == 5 and "rpm" in counted[-1] and '"rpm": 51' in counted[-1]  # only the changed target
    assert second == _found(root, tmp_path / "fresh")

    rego = root / "policies" / "limits.rego"
    rego.write_text(rego.read_text() + "\n# edited\n")
    before = len(counted)
    _found(root, cache)
    assert len(counted) == before + 2  # other policies: every target asked again


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_or_forged_cache_is_ignored(make_repo, tmp_path, counted, damage) -> None:  # type: ignore[no-untyped-def]
    root, cache = _repo(make_repo), tmp_path / "cache"
    first = _found(root, cache)
    path = cache / FILE_NAME
    data = path.read_bytes()
    body = data[len(MAGIC):].partition(b"\n")[2]
    # A forged file says no target has any finding; its MAC is not under this machine's key.
    empty = body.replace(b'"deny"', b'"xdeny"').replace(b'"warn"', b'"xwarn"')
    path.write_bytes(damaged(data, MAGIC, empty, damage))
    assert _found(root, cache) == first
    assert len(counted) == 4  # every target evaluated again
    assert _found(root, cache) == first and len(counted) == 4  # and the file rewritten, good again


def test_no_cache_keeps_nothing(make_repo, tmp_path, counted) -> None:  # type: ignore[no-untyped-def]
    root = _repo(make_repo)
    a = run_checks(DirSource(root), cache=False).diagnostics
    b = run_checks(DirSource(root), cache=False).diagnostics
    assert a == b and len(counted) == 4
