"""Shared fixtures for the secrets unit tests: throwaway age keys, a keyring."""

from __future__ import annotations

from pathlib import Path

import pyrage
import pytest

from cfgc.secrets.keysources import Keyring
from cfgc.secrets.keysources.age import AgeSource

DATA = Path(__file__).parent / "data"
CANARY = "canary-5ecr3t-Zq9"


@pytest.fixture()
def age_id() -> pyrage.x25519.Identity:
    return pyrage.x25519.Identity.generate()


@pytest.fixture()
def keyring(age_id: pyrage.x25519.Identity) -> Keyring:
    return Keyring({"age": AgeSource(identities=[age_id])})


@pytest.fixture()
def no_env_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make sure no ambient age identity is picked up."""
    for var in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


@pytest.fixture()
def repo(tmp_path: Path, age_id: pyrage.x25519.Identity, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with a .sops.yaml naming ``age_id``'s recipient."""
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: {age_id.to_public()}\n"
    )
    (tmp_path / "secrets").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path
