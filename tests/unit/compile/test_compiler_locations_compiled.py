"""A finding's location comes from the bytes the compile read: a layer file saved again
before the location is asked for (a developer's editor, mid-build) does not move it."""

from __future__ import annotations

import json
from pathlib import Path

from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import DirSource
from tests.fixtures.repos import GRID_CONFIG


def test_a_location_is_of_the_bytes_compiled_not_of_the_file_saved_since(make_repo, tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"port": {"type": "integer"}}}
    repo: Path = make_repo({"base/a.yaml": "name: base\n", "envs/dev.yaml": "x: 1\n",
                            "svc/dev/s0.yaml": "name: a\nport: 'x'\n", "schemas/s.json": json.dumps(schema)},
                           config=GRID_CONFIG)
    compiler = Compiler(DirSource(repo))
    spec = compiler.selected(None)[0]
    ct, failed = compiler.try_compile(spec)
    assert ct is not None and not failed
    # Saved again between the compile and the finding: three lines on top, port now valid.
    (repo / "svc/dev/s0.yaml").write_text("# a\n# b\n# c\nname: a\nport: 8080\n")
    found = [d for d in compiler.validate(ct) if d.severity == "error"]
    assert [(d.location.path, d.location.line) for d in found if d.location] == [("svc/dev/s0.yaml", 2)]
