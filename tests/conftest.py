"""Root test configuration: shared fixture modules are plugged in here."""

import importlib.util

pytest_plugins = [
    name
    for name in ("tests.fixtures.registry", "tests.fixtures.repos")
    if importlib.util.find_spec(name) is not None
]
