"""Generated values on both sides: a diff from records (subtrees compared by
index, changed leaves kept per index pair, JSON written by orjson) says byte for
byte what compiling both sides says."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfgc.review import diff_files
from tests.fixtures.repos import EXAMPLE, git_init
from tests.unit.review.diff_run import diff_worktree, same

_TEXT = st.one_of(st.text(alphabet="ab c:/-_é\n\"'", max_size=8),
                  st.sampled_from(["sk-live-0123456789abcdef0123", "user:hunter2hunter2@db", "prod", ""]))
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.integers(), _TEXT,
                     st.sampled_from([0.5, 1e16, 1e-5, -0.0, 1.0]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "password", "url"]), inner, max_size=3)),
    max_leaves=6)
# gen_t is set by two tenants: one key whose subtrees differ between targets.
_SIDE = st.fixed_dictionaries({}, optional={"gen_a": _VALUES, "gen_b": _VALUES, "logging": _VALUES,
                                            "acme": _VALUES, "globex": _VALUES})
_FILES = (("base/00-providers.yaml", {"gen_a": "gen_a"}), ("envs/prod.yaml", {"gen_b": "gen_b", "logging": "logging"}),
          ("tenants/acme/tenant.yaml", {"acme": "gen_t"}), ("tenants/globex/tenant.yaml", {"globex": "gen_t"}))


def _write(root: Path, side: dict[str, Any]) -> None:
    # JSON is YAML: each generated key appended as one flow mapping entry.
    for rel, keys in _FILES:
        path = root / rel
        kept = path.read_text().split("\n# generated\n")[0]
        extra = "".join(f"{key}: {json.dumps(side[k])}\n" for k, key in keys.items() if k in side)
        if "logging" in keys and "logging" in side:  # a key the file sets already: replaced, not repeated
            kept = kept.replace("logging:", "old_logging:", 1)
        path.write_text(kept + "\n# generated\n" + extra)




@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(_SIDE, _SIDE)
def test_records_and_kept_results_say_what_compiling_says_for_generated_values(before: dict[str, Any], after: dict[str, Any]) -> None:
    # The working tree's blob ids from git's index too, whatever the repo's size.
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(diff_files, "_INDEX_MIN", 0):
        root = Path(tmp) / "repo"
        shutil.copytree(EXAMPLE, root)
        _write(root, before)
        git_init(root)
        _write(root, after)
        want = diff_worktree(root, None)
        cache = Path(tmp) / "cache"
        # Compiled and recorded, then both sides from the records, then (when
        # nothing was compiled) the whole result kept by the second run.
        for _ in range(3):
            same(diff_worktree(root, cache), want)
