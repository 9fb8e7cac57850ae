"""Credentials never cross origins: a registry on 127.0.0.1 redirects blob GETs to a recorder on
127.0.0.2 (as registries redirect to S3 or a CDN); the recorder logs every header it receives."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cfgc.base.canonical import sha256_digest
from cfgc.base.errors import ExternalError
from cfgc.stores.oci import OciStore
from cfgc.stores.oci_http import MAX_REDIRECTS, BodyTooLarge, Registry

USER, SECRET = "robot", "CANARY-registry-pw-93ab"
BASIC = "Basic " + base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
COOKIE = "CANARY-cookie-77c1"
BLOB = b"target bytes " * 1000
DIGEST = sha256_digest(BLOB)


@dataclass
class World:
    """What the two servers saw, and where they are."""

    registry: str = ""
    cdn: str = ""
    cdn_headers: list[dict[str, str]] = field(default_factory=list)
    registry_auth: list[str] = field(default_factory=list)
    redirect: str = "cdn"  # cdn | same | loop | file | cdn-401
    chunked: bool = False


def _handler(world: World, role: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if world.chunked and body:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, len(body), 1000):
                    part = body[i:i + 1000]
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            if role == "cdn":
                return self._cdn()
            world.registry_auth.append(self.headers.get("Authorization", ""))
            if self.headers.get("Authorization") != BASIC:
                return self._send(401, b"{}", {"WWW-Authenticate": 'Basic realm="reg"'})
            if self.path.startswith("/same/"):
                return self._send(200, BLOB)
            target = {"cdn": f"http://{world.cdn}/blob?X-Amz-Signature=abc",
                      "cdn-401": f"http://{world.cdn}/deny",
                      "same": "/same/blob", "loop": f"http://{world.cdn}/loop",
                      "file": "file:///etc/passwd"}[world.redirect]
            self._send(307, b"", {"Location": target, "Set-Cookie": f"session={COOKIE}; Path=/"})

        def do_PUT(self) -> None:  # noqa: N802 - http.server API
            return self.do_GET() if role == "registry" else self._cdn()

        def _cdn(self) -> None:
            world.cdn_headers.append(dict(self.headers.items()))
            if self.path.startswith("/loop"):
                return self._send(302, b"", {"Location": "/loop"})
            if self.path.startswith("/deny"):
                realm = f'Bearer realm="http://{world.cdn}/token",service="cdn"'
                return self._send(401, b"{}", {"WWW-Authenticate": realm})
            self._send(200, BLOB)

    return Handler


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _handler(w, "registry")),
               ThreadingHTTPServer(("127.0.0.2", 0), _handler(w, "cdn"))]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    w.registry, w.cdn = (f"{s.server_address[0]}:{s.server_address[1]}" for s in servers)
    try:
        yield w
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def _leaks(headers: list[dict[str, str]]) -> list[str]:
    encoded = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
    return [f"{k}: {v}" for h in headers for k, v in h.items()
            if k.lower() in ("authorization", "cookie") or any(c in v for c in (SECRET, encoded, COOKIE))]


def test_redirected_blob_pull_sends_no_credentials_to_the_other_host(world: World) -> None:
    store = OciStore(Registry(world.registry, username=USER, password=SECRET), "x/y")
    assert store.get_blob(DIGEST) == BLOB  # pulled through the redirect, verified
    assert len(world.cdn_headers) == 1 and _leaks(world.cdn_headers) == []
    assert BASIC in world.registry_auth  # the registry itself did get the credentials
    # A caller's own headers stay home too, except Accept.
    store.registry.request("GET", f"/v2/x/y/blobs/{DIGEST}", headers={"Accept": "a/b", "X-Token": SECRET})
    assert world.cdn_headers[-1].get("Accept") == "a/b" and _leaks(world.cdn_headers) == []


def test_same_origin_redirect_keeps_credentials(world: World) -> None:
    world.redirect = "same"
    store = OciStore(Registry(world.registry, username=USER, password=SECRET), "x/y")
    assert store.get_blob(DIGEST) == BLOB
    assert world.registry_auth[-1] == BASIC and world.cdn_headers == []


def test_a_redirect_targets_401_is_not_answered_with_our_credentials(world: World) -> None:
    store = OciStore(Registry(world.registry, username=USER, password=SECRET), "x/y")
    world.redirect = "same"
    store.get_blob(DIGEST)  # already authenticated: the CDN's challenge would be the one answered
    world.redirect = "cdn-401"
    with pytest.raises(ExternalError, match="refused"):
        store.get_blob(DIGEST)
    assert [h for h in world.cdn_headers if "/token" in str(h)] == [] and _leaks(world.cdn_headers) == []
    assert len(world.cdn_headers) == 1  # no token request went to the realm the CDN named


def test_redirects_are_bounded(world: World) -> None:
    world.redirect = "loop"
    store = OciStore(Registry(world.registry, username=USER, password=SECRET), "x/y")
    with pytest.raises(ExternalError, match=f"more than {MAX_REDIRECTS} redirects"):
        store.get_blob(DIGEST)
    assert len(world.cdn_headers) == MAX_REDIRECTS


def test_redirect_to_a_non_http_url_is_refused(world: World) -> None:
    world.redirect = "file"
    store = OciStore(Registry(world.registry, username=USER, password=SECRET), "x/y")
    with pytest.raises(ExternalError, match="'file' URL"):
        store.get_blob(DIGEST)


def test_upload_location_on_another_host_gets_no_credentials(world: World) -> None:
    reg = Registry(world.registry, username=USER, password=SECRET)
    reg.request("GET", "/v2/")  # authenticate first
    assert world.registry_auth[-1] == BASIC
    r = reg.request("PUT", f"http://{world.cdn}/upload?digest={DIGEST}", BLOB)
    assert r.status == 200 and world.cdn_headers[-1]["Content-Length"] == str(len(BLOB))
    assert _leaks(world.cdn_headers) == []


@pytest.mark.parametrize("chunked", [False, True])
def test_max_bytes_stops_reading(world: World, chunked: bool) -> None:
    world.chunked = chunked  # without Content-Length the limit is enforced while streaming
    store = OciStore(Registry(world.registry, username=USER, password=SECRET), "x/y")
    with pytest.raises(BodyTooLarge, match=f"limit of {len(BLOB) - 1}") as e:
        store.get_blob(DIGEST, max_bytes=len(BLOB) - 1)
    assert "X-Amz-Signature" not in str(e.value)  # pre-signed query strings are not echoed
    assert store.get_blob(DIGEST, max_bytes=len(BLOB)) == BLOB  # the pool still works afterwards
