"""Production targets: the compiled globs say what fnmatch says."""

from __future__ import annotations

import fnmatch
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.repo.config import RepoConfig, load_config
from cfgc.repo.sources import DirSource
from cfgc.review.diff_result import is_production
from tests.fixtures.repos import EXAMPLE

_PART = st.text(alphabet="ab/*?[]!-.\n", max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PART, max_size=3), _PART, st.dictionaries(st.sampled_from(["env", "tenant"]), _PART, max_size=2))
def test_production_globs_match_as_fnmatch(globs: list[str], name: str, variables: dict[str, str]) -> None:
    config = replace(_config(), production=tuple(globs))
    want = any(fnmatch.fnmatchcase(name, g) for g in globs) if globs else any("prod" in v for v in variables.values())
    assert is_production(name, variables, config) is want


def _config() -> RepoConfig:
    return load_config(DirSource(EXAMPLE))
