"""A non-finite number that reaches serialisation is reported at the line that set it.

The loader and templates refuse NaN and infinity, so this is defence in depth
for values built by other means (a plugin, a future stage): the error must
still be ``path:line:col`` like every input error.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cfgc.base.errors import InputError
from cfgc.bundle.layout import target_output
from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import open_source


def test_nan_is_located(make_repo) -> None:  # type: ignore[no-untyped-def]
    repo: Path = make_repo({
        "base/a.yaml": "limits:\n  rpm: 1\n  ratio: 0.5\n",
        "envs/prod.yaml": "x: 1\n",
        "tenants/acme/tenant.yaml": "y: 1\n",
        "tenants/acme/prod/chat.yaml": "z: 1\n",
    })
    compiler = Compiler(open_source(repo, None))
    [spec] = compiler.specs()
    target = compiler.compile(spec)
    value = {**target.value, "limits": {**target.value["limits"], "ratio": float("nan")}}
    with pytest.raises(InputError) as info:
        target_output(replace(target, value=value))
    assert str(info.value.location) == "base/a.yaml:3:3"
    assert "limits.ratio" in info.value.message
