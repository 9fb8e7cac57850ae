"""A rendered target leaves no reference cycle behind: its renderer, views and
closure are freed by reference counting.  Each render used to leave about 40
objects in cycles (the recursive ``build`` closure and the renderer's context,
which holds views that hold the renderer), so a build worker's young
collections ran every 20 targets or so and its full ones walked what they
promoted: at 100,000 targets about 2,150 collections a worker."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cfgc.base.errors import Location
from cfgc.compile.compiler import Compiler
from cfgc.compile.template_memo import RenderMemo
from cfgc.compile.templating import render_target
from cfgc.repo.sources import DirSource

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import corpus  # noqa: E402


def _loc(path: tuple[str | int, ...]) -> Location:
    return Location("t.yaml", 1, 1)


@pytest.fixture(autouse=True)
def _collector_off() -> Iterator[None]:
    # Off, so only the collect() calls below find cycles, not a collection that
    # runs in between on its own.
    was = gc.isenabled()
    gc.disable()
    yield
    (gc.enable if was else gc.disable)()




def _root(i: int) -> dict[str, object]:
    return {
        "service": f"s{i}",
        "org": {"domain": "example.com", "region": "eu"},
        "url": "https://{{ service }}.{{ config.org.domain }}",  # a plain lookup
        "region": "{{ config.org.region | upper }}",  # Jinja2, the whole value
        "text": "at {{ config.org.region }}-{{ 1 + 1 }}",  # Jinja2, text
        "models": [{"name": "m", "endpoint": "{{ config.url }}/m"}, {"n": 1}],
        "copy": "{{ config.org }}",  # a mapping through a view, made plain
    }


def test_a_render_leaves_no_cycle() -> None:
    memo = RenderMemo()
    render_target(_root(0), {"service": "s0"}, "t", _loc, memo=memo)  # Jinja2 imported, templates compiled
    gc.collect()
    for i in range(20):
        out = render_target(_root(i), {"service": f"s{i}"}, "t", _loc, memo=memo if i % 2 else None)
        assert out["url"] == f"https://s{i}.example.com"
        assert out["region"] == "EU"
        assert out["copy"] == {"domain": "example.com", "region": "eu"}
    assert gc.collect() == 0


@pytest.mark.parametrize("plain", [True, False])
def test_compiling_targets_leaves_no_cycle(tmp_path: Path, plain: bool) -> None:
    """A whole compile, as a build worker runs it (the generated corpus: templates,
    ``$extends``, prompts, secret references), makes no cycle per target."""
    corpus.generate(tmp_path, 2, 2, 6, plain=plain, seed=3)
    c = Compiler(DirSource(tmp_path))
    specs = c.specs()
    for spec in specs[:2]:  # the first targets load shared layers, schemas and Jinja2
        c.validate(c.compile(spec))
        c.release(spec)
    gc.collect()
    for spec in specs[2:]:
        c.validate(c.compile(spec))
        c.release(spec)
    assert gc.collect() == 0
