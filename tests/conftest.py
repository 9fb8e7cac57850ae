"""Root test configuration: shared fixture modules are plugged in here."""

import importlib.util

import pytest

pytest_plugins = [
    name
    for name in ("tests.fixtures.registry", "tests.fixtures.repos")
    if importlib.util.find_spec(name) is not None
]


@pytest.fixture(scope="session")
def _user_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    base = tmp_path_factory.mktemp("user-dirs")
    return str(base / "cache"), str(base / "state")


@pytest.fixture(autouse=True)
def _isolated_user_dirs(_user_dirs: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Build caches and the cache key go to a temporary home, never the real one."""
    monkeypatch.setenv("XDG_CACHE_HOME", _user_dirs[0])
    monkeypatch.setenv("XDG_STATE_HOME", _user_dirs[1])
    monkeypatch.delenv("CFGC_CACHE_DIR", raising=False)
    monkeypatch.delenv("CFGC_CACHE_SECRET", raising=False)


@pytest.fixture(autouse=True)
def _runtime_state_file(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own runtime serial state file (never the user's ~/.local/state)."""
    monkeypatch.setenv("CFGC_STATE_FILE", str(tmp_path_factory.mktemp("state") / "serials.json"))
