"""The OCI HTTP client: scheme choice, docker config credentials, token auth (against a tiny local server)."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cfgc.base.errors import ExternalError
from cfgc.stores.oci import OciStore
from cfgc.stores.oci_auth import Credentials, docker_credentials
from cfgc.stores.oci_http import Registry


def test_plain_http_only_for_loopback_or_when_asked() -> None:
    assert Registry("127.0.0.1:5000").scheme == "http"
    assert Registry("localhost:5000").scheme == "http"
    assert Registry("registry.example.com").scheme == "https"
    assert Registry("registry.example.com:5000", plain_http=True).scheme == "http"


def test_docker_config_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = base64.b64encode(b"robot:s3cr:et").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"https://reg.example.com/v1/": {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert docker_credentials("reg.example.com") == Credentials("robot", "s3cr:et")
    assert docker_credentials("other.example.com") is None
    assert Registry("reg.example.com").creds == Credentials("robot", "s3cr:et")
    assert Registry("reg.example.com", username="u", password="p").creds == Credentials("u", "p")
    assert "s3cr" not in repr(docker_credentials("reg.example.com"))


class _TokenRegistry(BaseHTTPRequestHandler):
    """Answers like a registry behind a token service: 401 + Bearer challenge, /token for basic creds."""

    def log_message(self, *args: object) -> None:
        pass

    def _json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        # The OAuth2 refresh-token grant that an identity token (docker's "<token>" user) uses.
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        ok = (form.get("grant_type") == ["refresh_token"] and form.get("refresh_token") == ["REFRESH"]
              and form.get("scope") == ["repository:x/y:pull"] and "Authorization" not in self.headers)
        return self._json(200, {"access_token": "T0K"}) if ok else self._json(401, {})

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        host = self.headers["Host"]
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/token"):
            ok = auth == "Basic " + base64.b64encode(b"robot:pw").decode() and "scope=repository" in self.path
            return self._json(200, {"token": "T0K"}) if ok else self._json(401, {})
        if auth != "Bearer T0K":
            challenge = f'Bearer realm="http://{host}/token",service="reg",scope="repository:x/y:pull"'
            return self._json(401, {}, {"WWW-Authenticate": challenge})
        if "/manifests/" in self.path:
            return self._json(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        return self._json(200, {"name": "x/y", "tags": ["abcdef012345", "prod", "sha256-00.sig"]})


@pytest.fixture
def token_registry() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_bearer_token_flow(token_registry: str) -> None:
    store = OciStore(Registry(token_registry, username="robot", password="pw"), "x/y")
    assert store.list_versions() == ["abcdef012345"]
    assert store.list_channels() == ["prod"]


def test_identity_token_is_exchanged_as_a_refresh_token(token_registry: str) -> None:
    store = OciStore(Registry(token_registry, username="<token>", password="REFRESH"), "x/y")
    assert store.list_versions() == ["abcdef012345"]
    store = OciStore(Registry(token_registry, username="<token>", password="STALE"), "x/y")
    with pytest.raises(ExternalError, match="token request"):
        store.list_versions()


def test_wrong_credentials_are_an_external_error(token_registry: str) -> None:
    store = OciStore(Registry(token_registry, username="robot", password="nope"), "x/y")
    with pytest.raises(ExternalError, match="token request"):
        store.list_versions()


def test_cli_password_stdin(token_registry: str) -> None:
    from click.testing import CliRunner

    from cfgc.cli.main import cli, register_commands

    register_commands()
    url = f"oci://{token_registry}/x/y"
    r = CliRunner().invoke(cli, ["versions", "--from", url, "--username", "robot", "--password-stdin"], input="pw\n")
    assert r.exit_code == 0, r.output
    assert "no versions" in r.output  # authenticated: tags listed, their manifests gone
    r = CliRunner().invoke(cli, ["versions", "--from", url, "--username", "robot", "--password-stdin"], input="no\n")
    assert r.exit_code == 4 and "token request" in r.output
