"""Credentials from a docker credential helper, against a real docker-registry with htpasswd auth.

The helper (tests/data/credhelper/docker-credential-cfgctest) is put on PATH and
named in $DOCKER_CONFIG/config.json; its secret is a canary that must appear in
no output of the real console script, on success or failure.
"""

from __future__ import annotations

import os
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.registry import REGISTRY_BIN
from tests.fixtures.repos import cfgc_bin
from tests.fixtures.servers import free_port, running
from tests.unit.stores import credhelper
from tests.unit.stores.credhelper import DockerConfig

docker_config = credhelper.docker_config  # the fixture

pytestmark = pytest.mark.integration
USER, SECRET = "robot", "CANARY-htpasswd-secret-4e2f"


def _bcrypt(password: str) -> str:
    try:
        import bcrypt  # type: ignore[import-not-found]

        return str(bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode())
    except ImportError:
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt  # glibc's libxcrypt does bcrypt ($2b$)
        except ImportError:
            pytest.skip("neither bcrypt nor crypt is available to write an htpasswd file")
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("this libc's crypt() has no bcrypt")
    return hashed


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A docker-registry on loopback that requires basic auth (htpasswd, bcrypt)."""
    if not REGISTRY_BIN.exists():
        pytest.skip("docker-registry is not installed")
    d = tmp_path_factory.mktemp("authreg")
    (d / "htpasswd").write_text(f"{USER}:{_bcrypt(SECRET)}\n")
    port = free_port()
    (d / "config.yml").write_text(
        "version: 0.1\nlog: {level: error}\n"
        f"storage:\n  filesystem: {{rootdirectory: {d / 'data'}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\nhealth: {{storagedriver: {{enabled: false}}}}\n"
        f"auth:\n  htpasswd: {{realm: cfgc-test, path: {d / 'htpasswd'}}}\n")
    # /v2/ answers 401 when auth is on; `running` waits for any HTTP answer on the port.
    with running([str(REGISTRY_BIN), "serve", str(d / "config.yml")], f"http://127.0.0.1:{port}/",
                 d / "registry.log", "docker-registry (htpasswd)", timeout=20, cwd=d):
        yield f"127.0.0.1:{port}"


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    return subprocess.run([*cfgc_bin(), *args], capture_output=True, text=True, env=full, timeout=120)


def test_publish_and_pull_with_a_credential_helper(auth_registry: str, docker_config: DockerConfig,
                                                   make_bundle, signing_key, tmp_path: Path) -> None:
    url = f"oci://{auth_registry}/h{uuid.uuid4().hex[:8]}/config"
    bundle = make_bundle({"a/b/c": {"model": "m", "n": 1}})
    docker_config.write({"credHelpers": {auth_registry: "cfgctest"}},
                        {auth_registry: {"Username": USER, "Secret": SECRET}})
    pub = _run(["publish", str(bundle), "--to", url, "--channel", "prod", "--key", str(signing_key[0])],
               docker_config.env)
    assert pub.returncode == 0, pub.stderr
    pull = _run(["pull", "prod", "--from", url, "--out", str(tmp_path / "out"), "--key", str(signing_key[1])],
                docker_config.env)
    assert pull.returncode == 0, pull.stderr
    assert (tmp_path / "out" / "targets/a/b/c.json").exists()
    assert f"docker-credential-cfgctest {auth_registry}" in docker_config.calls()
    for p in (pub, pull):
        assert SECRET not in p.stdout + p.stderr


@pytest.mark.parametrize("mode", ["wrong", "missing", "fail", "garbage"])
def test_helper_failures_exit_4_without_the_secret(auth_registry: str, docker_config: DockerConfig,
                                                   mode: str) -> None:
    url = f"oci://{auth_registry}/h{uuid.uuid4().hex[:8]}/config"
    secret = SECRET + "-wrong" if mode == "wrong" else SECRET
    docker_config.write({"credsStore": "cfgctest"},
                        {} if mode == "missing" else {auth_registry: {"Username": USER, "Secret": secret}})
    env = {**docker_config.env, "CFGCTEST_MODE": mode}
    for debug in ([], ["--debug"]):
        r = _run([*debug, "versions", "--from", url], env)
        assert r.returncode == 4, r.stdout + r.stderr
        assert SECRET not in r.stdout + r.stderr
        assert ("docker-credential-cfgctest" in r.stderr) == (mode in ("fail", "garbage"))
        if not debug:
            assert "Traceback" not in r.stderr
