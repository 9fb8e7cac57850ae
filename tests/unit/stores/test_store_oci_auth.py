"""Docker config credentials: credHelpers > credsStore > auths, the helper protocol, no secret in errors."""

from __future__ import annotations

import base64

import pytest

from cfgc.base.errors import ExternalError
from cfgc.stores import oci_auth
from cfgc.stores.oci_auth import Credentials, docker_credentials
from tests.unit.stores import credhelper
from tests.unit.stores.credhelper import DockerConfig

docker_config = credhelper.docker_config  # the fixture

HOST = "reg.example.com:5000"
SECRET = "CANARY-helper-secret-51d0"


def _auths(user: str, password: str) -> dict[str, dict[str, str]]:
    return {f"https://{HOST}": {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}


def test_precedence_is_dockers(docker_config: DockerConfig) -> None:
    creds = {HOST: {"Username": "helper", "Secret": SECRET}}
    docker_config.write({"credHelpers": {HOST: "other"}, "credsStore": "cfgctest", "auths": _auths("a", "b")}, creds)
    assert docker_credentials(HOST) == Credentials("helper", SECRET)
    assert docker_config.calls() == [f"docker-credential-other {HOST}"]  # the host's own helper only

    docker_config.write({"credHelpers": {"elsewhere": "other"}, "credsStore": "cfgctest",
                         "auths": _auths("a", "b")}, creds)
    assert docker_credentials(HOST) == Credentials("helper", SECRET)
    assert docker_config.calls()[-1] == f"docker-credential-cfgctest {HOST}"

    docker_config.write({"credsStore": "cfgctest", "auths": _auths("a", "b")}, {})
    assert docker_credentials(HOST) is None  # "credentials not found": none, and `auths` is not read (docker)

    docker_config.write({"credHelpers": {"elsewhere": "other"}, "auths": _auths("a", "b:c")}, creds)
    assert docker_credentials(HOST) == Credentials("a", "b:c")


def test_auths_forms(docker_config: DockerConfig) -> None:
    docker_config.write({"auths": {HOST: {"username": "u", "password": "p"}}})
    assert docker_credentials(HOST) == Credentials("u", "p")
    docker_config.write({"auths": {HOST: {"identitytoken": "refresh-me"}}})
    found = docker_credentials(HOST)
    assert found is not None and found.identity_token == "refresh-me"
    assert Credentials("u", "p").identity_token is None


@pytest.mark.parametrize("mode", ["fail", "garbage"])
def test_a_failing_helper_is_an_error_without_its_output(docker_config: DockerConfig, mode: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    docker_config.write({"credsStore": "cfgctest"}, {HOST: {"Username": "u", "Secret": SECRET}})
    monkeypatch.setenv("CFGCTEST_MODE", mode)
    with pytest.raises(ExternalError, match="docker-credential-cfgctest") as e:
        docker_credentials(HOST)
    assert SECRET not in str(e.value) and SECRET not in repr(e.value)
    # no chained exception that a --debug traceback would print with the helper's output
    assert e.value.__cause__ is None and (e.value.__context__ is None or e.value.__suppress_context__)


def test_helper_timeout(docker_config: DockerConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    docker_config.write({"credsStore": "cfgctest"})
    monkeypatch.setenv("CFGCTEST_MODE", "sleep")
    monkeypatch.setattr(oci_auth, "HELPER_TIMEOUT", 0.5)
    with pytest.raises(ExternalError, match="did not answer"):
        docker_credentials(HOST)


@pytest.mark.parametrize("name", ["../../bin/sh", "a b", ""])
def test_helper_name_must_be_plain(docker_config: DockerConfig, name: str) -> None:
    docker_config.write({"credHelpers": {HOST: name}})
    with pytest.raises(ExternalError, match="not a plain name"):
        docker_credentials(HOST)


def test_missing_helper(docker_config: DockerConfig) -> None:
    docker_config.write({"credsStore": "desktop"})
    with pytest.raises(ExternalError, match="docker-credential-desktop .*not on PATH"):
        docker_credentials(HOST)


def test_helper_is_run_only_when_the_registry_asks(docker_config: DockerConfig) -> None:
    from cfgc.stores.oci_http import Registry

    docker_config.write({"credsStore": "cfgctest"}, {HOST: {"Username": "u", "Secret": SECRET}})
    reg = Registry(HOST)
    assert docker_config.calls() == []  # anonymous registries never run it
    assert reg.creds == Credentials("u", SECRET) and len(docker_config.calls()) == 1
    assert reg.creds is not None and len(docker_config.calls()) == 1  # asked once per registry
