"""A docker config in a temporary $DOCKER_CONFIG, with the test credential helper on PATH."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HELPER_DIR = Path(__file__).resolve().parents[2] / "data" / "credhelper"


@dataclass
class DockerConfig:
    """Write ``config.json`` and the helper's answers; ``env`` is what a subprocess needs."""

    dir: Path
    env: dict[str, str]

    def write(self, config: dict[str, Any], creds: dict[str, dict[str, str]] | None = None) -> None:
        (self.dir / "config.json").write_text(json.dumps(config))
        (self.dir / "creds.json").write_text(json.dumps(creds or {}))

    def calls(self) -> list[str]:
        log = self.dir / "helper.log"
        return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DockerConfig:
    d = tmp_path / "docker"
    d.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = HELPER_DIR / "docker-credential-cfgctest"
    for name in ("cfgctest", "other"):  # two helper names, one script (it reports its own name)
        (bin_dir / f"docker-credential-{name}").symlink_to(helper)
    env = {"DOCKER_CONFIG": str(d), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "CFGCTEST_CREDS": str(d / "creds.json"), "CFGCTEST_LOG": str(d / "helper.log")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return DockerConfig(d, env)
