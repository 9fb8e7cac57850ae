"""save_after finds a moved file's place in the stat index by name (cfgc/bundle/inplace.py).

Held to a plain search of the list over generated target names (the order of
sorted names is not the order of their paths: ``a/b/c`` < ``a/b/c-d`` but
``targets/a/b/c-d.json`` < ``targets/a/b/c.json``) and other bundle files.
"""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from cfgc.bundle.inplace import _bundle_index
from cfgc.bundle.outpack import target_files

PART = st.text(alphabet="ab-._0", min_size=1, max_size=4)
NAME = st.lists(PART, min_size=1, max_size=3).map("/".join)


@given(st.lists(NAME, unique=True, max_size=12), st.lists(st.sampled_from(
    ["prompts/p/1.0.0.j2", "secrets/s.yaml", "manifest.json", "targets/x.json"]), unique=True),
    st.lists(NAME, max_size=4))
def test_the_index_by_name_is_the_search(names: list[str], others: list[str], absent: list[str]) -> None:
    names = sorted(names)
    bundle = target_files(names) + [p for p in others if p not in target_files(names)]
    state = SimpleNamespace(names=names, bundle=bundle)
    for rel in [*bundle, *(f"targets/{n}.json" for n in absent), "targets/.json", "prompts/none.j2"]:
        expected = bundle.index(rel) if rel in bundle else None
        assert _bundle_index(state, rel) == expected  # type: ignore[arg-type]
