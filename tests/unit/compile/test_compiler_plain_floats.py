"""A compiled target says ``plain_floats`` only when its value is a merge of
fast-path files with plain floats and no late stage made new values; its
canonical JSON is then the same either way."""

from __future__ import annotations

from pathlib import Path

from cfgc.base.canonical import canonical_json, reference_json
from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import DirSource

CONFIG = """version: 1
hierarchy:
  - base.yaml
  - services/{service}.yaml
targets: "{service}"
"""


def two_level_compiler(tmp_path: Path, base: str, services: dict[str, str]) -> Compiler:
    """A compiler over ``base.yaml`` and one ``services/NAME.yaml`` per service (:data:`CONFIG`)."""
    (tmp_path / "cfgc.yaml").write_text(CONFIG)
    (tmp_path / "base.yaml").write_text(base)
    (tmp_path / "services").mkdir()
    for name, text in services.items():
        (tmp_path / "services" / f"{name}.yaml").write_text(text)
    return Compiler(DirSource(tmp_path))


def _compile(tmp_path: Path, services: dict[str, str]) -> dict[str, tuple[bool, bytes]]:
    c = two_level_compiler(tmp_path, "rate: 0.1\nlimits: {rpm: 600, ratio: 2.5}\n", services)
    out = {}
    for spec in c.specs():
        ct = c.compile(spec)
        assert canonical_json(ct.value, ct.plain_floats) == reference_json(ct.value)
        out[spec.name] = (ct.plain_floats, canonical_json(ct.value, ct.plain_floats))
    return out


def test_plain_targets_and_the_ones_that_are_not(tmp_path: Path) -> None:
    got = _compile(
        tmp_path,
        {
            "plain": "temperature: 0.7\n",
            "tiny": "temperature: 0.00001\n",  # json writes 1e-05
            "huge": "big: 1.0e+16\n",
            "templated": 'name: "{{ target }}"\n',  # a late stage: values it made are not the files' leaves
            "anchored": "a: &x 0.5\nb: *x\n",  # the careful path: it never vouches
        },
    )
    assert got["plain"][0] is True
    assert [got[n][0] for n in ("tiny", "huge", "templated", "anchored")] == [False] * 4
    assert b"1e-05" in got["tiny"][1] and b"1e+16" in got["huge"][1]
