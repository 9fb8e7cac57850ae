"""``cfgc`` re-exports the API without importing it (a running agent must never
load ``cfgc.api``), so it keeps its own copy of the names: the two must agree."""

from __future__ import annotations

import subprocess
import sys

import cfgc
import cfgc.api
from cfgc.base import errors

ERRORS = {"CfgcError", "ExternalError", "InputError", "IntegrityError", "InvalidConfig", "UsageError"}


def test_the_package_exports_the_api_and_the_errors() -> None:
    assert set(cfgc.__all__) == set(cfgc.api.__all__) | ERRORS
    for name in cfgc.api.__all__:
        assert getattr(cfgc, name) is getattr(cfgc.api, name), name
    for name in ERRORS:
        assert getattr(cfgc, name) is getattr(errors, name)


def test_every_api_name_resolves_and_importing_cfgc_loads_no_api() -> None:
    assert all(getattr(cfgc.api, name, None) is not None for name in cfgc.api.__all__)
    code = "import sys, cfgc; print('cfgc.api' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
