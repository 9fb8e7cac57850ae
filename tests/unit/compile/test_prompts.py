"""Which prompt version a ``!prompt name@range`` pins: npm's ``maxSatisfying`` over the library."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfgc.base.errors import InputError, Location
from cfgc.base.tags import PromptRef
from cfgc.compile.prompts import PromptLibrary
from cfgc.compile.semver import max_satisfying
from cfgc.repo.sources import DirSource

HAVE = ["0.7.2", "1.0.0-alpha", "1.0.1", "1.2.3", "1.2.8", "1.3.0-rc.1", "2.0.0-rc.1", "2.0.0", "2.3.4"]


def _library(make_repo, names: list[str]) -> PromptLibrary:
    root: Path = make_repo({f"prompts/p/{v}.j2": "hi\n" for v in names}, config=None)
    return PromptLibrary(DirSource(root), "prompts")


@pytest.mark.parametrize(("spec", "pinned"), [
    ("<=1.2", "1.2.8"), ("<=0.7.x", "0.7.2"), (">1", "2.3.4"), (">1.2", "2.3.4"), ("^1.0.0-alpha", "1.2.8"),
    ("<2.0.0-rc.2", "2.0.0-rc.1"), ("1.2.3 - 2.3.4", "2.3.4"), ("~>1.2", "1.2.8"), ("v1.2.3", "1.2.3"),
    ("1.2.3+build", "1.2.3"), ("^9 ||", "2.3.4"), ("^1.3.0-rc.1", "1.3.0-rc.1"), ("~1.3", None),
])
def test_pins_what_npm_max_satisfying_picks(make_repo, spec: str, pinned: str | None) -> None:
    lib = _library(make_repo, HAVE)
    assert max_satisfying(HAVE, spec) == pinned  # the expectation is npm's (tests/unit/compile/test_semver.py)
    ref = PromptRef("p", spec, Location("envs/dev.yaml", 3, 9))
    if pinned is None:
        with pytest.raises(InputError, match="no version of prompt 'p' matches"):
            lib.resolve(ref)
    else:
        assert lib.resolve(ref).pinned == f"p@{pinned}"


@pytest.mark.parametrize("spec", ["1.x.5", "x.1", ">01.02.03", "1.2.3beta", "^1 <<2"])
def test_invalid_range_is_an_input_error_at_the_prompt(make_repo, spec: str) -> None:
    lib = _library(make_repo, HAVE)
    with pytest.raises(InputError) as e:
        lib.resolve(PromptRef("p", spec, Location("envs/dev.yaml", 3, 9)))
    assert e.value.exit_code == 1
    assert str(e.value.location) == "envs/dev.yaml:3:9"
    assert "invalid version range" in str(e.value) and "is not a valid comparator" in str(e.value)


@pytest.mark.parametrize("name", ["v1.0.0", "1.0.0+b", "1.0", "01.0.0", " 1.0.0"])
def test_non_canonical_file_names_are_refused(make_repo, name: str) -> None:
    with pytest.raises(InputError, match="prompt file name must be a semantic version") as e:
        _library(make_repo, ["1.0.0", name])
    assert e.value.location.path == f"prompts/p/{name}.j2"


def test_a_pin_is_kept_until_assumed_pins_change_the_choice(make_repo) -> None:
    lib = _library(make_repo, HAVE)
    ref = PromptRef("p", "^1.0", Location("envs/dev.yaml", 3, 9))
    assert lib.pin(ref) == lib.pin(ref) == "p@1.2.8"
    lib.assume_pins({"p\0^1.0": "1.0.1"})  # an earlier build's choice over these files
    assert lib.pin(ref) == "p@1.0.1"
    missing = PromptRef("p", "^7", Location("envs/dev.yaml", 4, 9))
    for _ in range(2):  # a failure is not kept: raised each time
        with pytest.raises(InputError, match="no version of prompt 'p' matches"):
            lib.pin(missing)


def test_a_template_nested_past_what_jinja2_parses_is_an_input_error(make_repo) -> None:
    """A prompt of 3,000 nested ``{% if %}`` blocks (a hostile commit) is refused at its file,
    not a RecursionError (`cfgc check` ended with exit 3)."""
    deep = "{% if a %}" * 3000 + "x" + "{% endif %}" * 3000
    root: Path = make_repo({"prompts/p/1.0.0.j2": deep}, config=None)
    lib = PromptLibrary(DirSource(root), "prompts")
    with pytest.raises(InputError, match="nests too deeply") as e:
        lib.load("p", next(iter(lib.versions["p"])))
    assert e.value.exit_code == 1 and e.value.location == Location("prompts/p/1.0.0.j2")
