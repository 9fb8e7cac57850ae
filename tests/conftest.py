"""Root test configuration: shared fixture modules are plugged in here."""

import importlib.util

pytest_plugins = [
    name
    for name in ("tests.fixtures.registry", "tests.fixtures.repos")
    if importlib.util.find_spec(name) is not None
]


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _runtime_state_file(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own runtime serial state file (never the user's ~/.local/state)."""
    monkeypatch.setenv("CFGC_STATE_FILE", str(tmp_path_factory.mktemp("state") / "serials.json"))
