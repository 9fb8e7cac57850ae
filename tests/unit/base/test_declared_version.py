"""A library's version read from its ``__init__`` is the one importing it gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cfgc.base.installed import declared_version

ROOT = Path(__file__).resolve().parents[3]


def test_pyyaml_without_importing_it() -> None:
    code = ("import sys; from cfgc.base.installed import declared_version; v = declared_version('yaml'); "
            "assert 'yaml' not in sys.modules, 'imported'; import yaml; print(v == yaml.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "True"


@pytest.mark.parametrize(("source", "imported"), [
    ("__version__ = '1.2.3'\n", False),
    ('__version__ = "1.2.3"  \n', False),
    ("__version__ = '1.2' + '.3'\n", True),  # not a literal: imported
    ("__version__ = '9.9.9'\nif True:\n    __version__ = '1.2.3'\n", True),  # set again, indented
    ("from ._v import v as __version__\n__version__ = '1.2.3'\n", True),  # named twice: imported
    ("__version__ = '0.0.0'\n__version__ = '1.2.3'\n", True),  # two literals: imported
])
def test_other_forms_are_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str,
                                  imported: bool) -> None:
    pkg = tmp_path / "fakelib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(source)
    (pkg / "_v.py").write_text("v = 'unused'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fakelib", raising=False)
    got = declared_version("fakelib")
    assert ("fakelib" in sys.modules) is imported
    import fakelib  # type: ignore[import-not-found]

    assert got == str(fakelib.__version__)
    monkeypatch.delitem(sys.modules, "fakelib", raising=False)
