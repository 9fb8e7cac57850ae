"""How a platform team unit-tests its own configuration with pytest and the cfgc API.

Run it from the repository root with ``python3 -m pytest examples/tests``.
Each test states a rule of the platform about the *compiled* targets (what
services receive), not about the YAML layers that produce them.  See
docs/api.md.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import cfgc

REPO = Path(__file__).resolve().parents[1] / "repo"
DAILY_BUDGET_CEILING_USD = {"dev": 10, "staging": 50, "prod": 1000}


@pytest.fixture(scope="module")
def config() -> cfgc.Compilation:
    # One compile for the whole module: it fails here, with file:line, if the repo is invalid.
    return cfgc.compile_repo(REPO)


def test_every_production_target_has_a_fallback_chain(config: cfgc.Compilation) -> None:
    prod = config.select("*/prod/*")
    assert prod, "no production targets: did the hierarchy change?"
    for target in prod:
        chain = target.get("routing.fallbacks", ())
        assert len(chain) >= 2, f"{target.name}: production needs two fallbacks, has {list(chain)}"
        default = target.get("routing.default_model")
        assert default not in chain, f"{target.name}: {default} falls back to itself"
        for name in chain:
            assert name in target.value["models"], f"{target.name}: fallback {name} is not a model"


def test_fallbacks_span_two_providers_in_production(config: cfgc.Compilation) -> None:
    for target in config.select("*/prod/*"):
        models = target.value["models"]
        used = [target.get("routing.default_model"), *target.get("routing.fallbacks")]
        providers = {models[m]["provider"] for m in used}
        assert len(providers) >= 2, f"{target.name}: one provider outage takes down every model"


@pytest.mark.parametrize("env", sorted(DAILY_BUDGET_CEILING_USD))
def test_daily_budgets_stay_under_the_ceiling(config: cfgc.Compilation, env: str) -> None:
    ceiling = DAILY_BUDGET_CEILING_USD[env]
    for target in config.select(f"*/{env}/*"):
        daily = target.get("budget.daily_usd")
        # explain() names the layer to change when the rule fails.
        where = target.source("budget.daily_usd") if daily is None or daily > ceiling else None
        assert daily is not None and daily <= ceiling, f"{target.name}: budget.daily_usd {daily} > {ceiling} ({where})"


def test_production_timeouts_are_tighter_than_dev(config: cfgc.Compilation) -> None:
    for target in config.select("*/prod/*"):
        tenant, _, service = target.name.split("/")
        dev = f"{tenant}/dev/{service}"
        if dev not in config.names:
            continue
        assert target.get("models.primary.timeout_s") <= config[dev].get("models.primary.timeout_s")


def test_the_prod_chat_timeout_is_set_by_the_service_layer(config: cfgc.Compilation) -> None:
    location = config["acme/prod/chat"].source("models.primary.timeout_s")
    assert location.path == "tenants/acme/prod/services/chat.yaml"


def test_a_breaking_change_is_reported_at_its_line(tmp_path: Path) -> None:
    repo = shutil.copytree(REPO, tmp_path / "repo")
    layer = repo / "tenants/acme/prod/services/chat.yaml"
    layer.write_text(layer.read_text().replace("timeout_s: 20", "timeout_s: soon"))
    with pytest.raises(cfgc.InvalidConfig) as caught:
        cfgc.compile_repo(repo, targets="acme/prod/*")
    errors = [d for d in caught.value.diagnostics if d.severity == "error"]
    assert errors and all(d.location is not None for d in errors)
    assert any(d.location.path == "tenants/acme/prod/services/chat.yaml" for d in errors if d.location)
    assert caught.value.exit_code == 1
