"""The listing sets a TargetSpec's fields directly (no frozen ``__init__``): each spec is
the one the constructor makes, field for field, in the same order (equal, same hash, same
repr, same pickle), for every shape of hierarchy the listing tests use."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings

from cfgc.repo import hierarchy
from cfgc.repo.hierarchy import Hierarchy, TargetSpec
from tests.unit.repo.test_hierarchy_listing import CONFIGS, _config, file_lists


def test_the_fields_set_directly_are_the_dataclass_s() -> None:
    assert tuple(f.name for f in dataclasses.fields(TargetSpec)) == hierarchy._FIELDS
    # Nothing the constructor would run that the listing skips.
    assert not hasattr(TargetSpec, "__post_init__") and not hasattr(TargetSpec, "__slots__")
    assert TargetSpec.__dataclass_params__.frozen  # type: ignore[attr-defined]


def _same(spec: TargetSpec) -> None:
    made = TargetSpec(spec.name, spec.vars, spec.layers)
    assert type(spec) is TargetSpec
    assert list(vars(spec).items()) == list(vars(made).items())
    assert spec == made and hash(spec) == hash(made) and repr(spec) == repr(made)
    assert pickle.dumps(spec) == pickle.dumps(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize("which", sorted(CONFIGS))
def test_listed_specs_are_the_constructor_s(make_repo: Callable[..., Any], which: str) -> None:
    config = _config(make_repo, which)

    @given(file_lists())
    @settings(max_examples=60, deadline=None)
    def check(files: list[str]) -> None:
        try:
            _, specs = Hierarchy(config, files).listing(None)
        except Exception:  # noqa: BLE001 - a refused listing has no specs (its error is test_hierarchy_listing's)
            return
        for spec in specs:
            _same(spec)

    check()
