"""The OCI store on a registry that has the referrers API (an in-process fake: distribution 2.8 has none).

The fake pages its referrers one descriptor at a time (``Link: <...>; rel="next"``),
answers ``OCI-Subject`` to a manifest PUT with a subject, and filters by
``artifactType`` only when told to (saying so with ``OCI-Filters-Applied``).
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cfgc.base.canonical import sha256_digest
from cfgc.base.errors import IntegrityError
from cfgc.bundle.signing import generate_keypair, load_signer, load_verifier
from cfgc.stores import open_store
from cfgc.stores.bounds import MAX_REFERRER_PAGES
from cfgc.stores.layout import CHANNEL_TYPE
from cfgc.stores.oci import OciStore
from cfgc.stores.oci_referrers import list_referrers
from cfgc.stores.publish import publish, refresh_channel
from cfgc.stores.reader import BundleReader
from tests.unit.runtime.bundles import chat, write
from tests.unit.stores.contract import check_store_contract

T = "acme/prod/chat"
_PATH = re.compile(r"^/v2/(.+)/(manifests|blobs|referrers|tags)/([^?]*)")


class FakeRegistry:
    def __init__(self, filters: bool) -> None:
        self.filters = filters
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, tuple[str, bytes]] = {}  # digest -> (media type, bytes)
        self.tags: dict[str, str] = {}
        self.deleted: list[str] = []
        self.referrer_gets = 0


def handler(reg: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            self._body()
            self._send(202, headers={"Location": "/upload/1"})

        def do_PUT(self) -> None:  # noqa: N802
            body, url = self._body(), urllib.parse.urlsplit(self.path)
            if url.path.startswith("/upload/"):
                reg.blobs[urllib.parse.parse_qs(url.query)["digest"][0]] = body
                return self._send(201)
            m = _PATH.match(url.path)
            assert m and m.group(2) == "manifests"
            digest = sha256_digest(body)
            reg.manifests[digest] = (self.headers["Content-Type"], body)
            if not m.group(3).startswith("sha256:"):
                reg.tags[m.group(3)] = digest
            subject = json.loads(body).get("subject")
            headers = {"Docker-Content-Digest": digest}
            if subject:
                headers["OCI-Subject"] = subject["digest"]
            self._send(201, headers=headers)

        def do_DELETE(self) -> None:  # noqa: N802
            m = _PATH.match(self.path)
            assert m
            reg.deleted.append(m.group(3))
            reg.manifests.pop(m.group(3), None)
            self._send(202)

        def do_HEAD(self) -> None:  # noqa: N802
            self.do_GET()

        def do_GET(self) -> None:  # noqa: N802
            url = urllib.parse.urlsplit(self.path)
            m = _PATH.match(url.path)
            if m is None:
                return self._send(200, b"{}")
            kind, ref = m.group(2), m.group(3)
            if kind == "blobs":
                return self._send(200, reg.blobs[ref]) if ref in reg.blobs else self._send(404)
            if kind == "tags":
                return self._send(200, json.dumps({"tags": sorted(reg.tags)}).encode())
            if kind == "referrers":
                return self._referrers(ref, urllib.parse.parse_qs(url.query))
            digest = reg.tags.get(ref, ref)
            if digest not in reg.manifests:
                return self._send(404)
            if self.headers.get("If-None-Match") == f'"{digest}"':
                return self._send(304)
            media, body = reg.manifests[digest]
            self._send(200, body, {"Content-Type": media, "Docker-Content-Digest": digest, "ETag": f'"{digest}"'})

        def _referrers(self, subject: str, query: dict[str, list[str]]) -> None:
            reg.referrer_gets += 1
            want = query.get("artifactType", [None])[0]
            found = []
            for digest, (media, body) in sorted(reg.manifests.items()):
                value: dict[str, Any] = json.loads(body)
                if (value.get("subject") or {}).get("digest") != subject:
                    continue
                if reg.filters and want and value.get("artifactType") != want:
                    continue
                found.append({"mediaType": media, "digest": digest, "size": len(body),
                              "artifactType": value.get("artifactType"),
                              "annotations": value.get("annotations") or {}})
            page = int(query.get("page", ["0"])[0])
            headers = {"Content-Type": "application/vnd.oci.image.index.v1+json"}
            if reg.filters and want:
                headers["OCI-Filters-Applied"] = "artifactType"
            if page + 1 < len(found):
                q = urllib.parse.urlencode({**({"artifactType": want} if want else {}), "page": page + 1})
                headers["Link"] = f'</v2/x/y/referrers/{subject}?{q}>; rel="next"'
            index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                     "manifests": found[page:page + 1]}
            self._send(200, json.dumps(index).encode(), headers)

    return H


@pytest.fixture(params=[True, False], ids=["filters", "no-filters"])
def registry(request) -> Iterator[tuple[FakeRegistry, str]]:
    reg = FakeRegistry(filters=request.param)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(reg))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield reg, f"oci://127.0.0.1:{server.server_address[1]}/x/y"
    server.shutdown()
    server.server_close()


def test_contract_on_a_registry_with_the_referrers_api(registry, make_bundle, tmp_path: Path) -> None:
    reg, url = registry
    check_store_contract(open_store(url), make_bundle, load_signer(generate_keypair(tmp_path / "k")[0]))
    assert not [t for t in reg.tags if t.startswith("sha256-")]  # the registry indexes referrers itself


def test_publish_read_refresh_through_the_api(registry, tmp_path: Path) -> None:
    reg, url = registry
    key, pub = generate_keypair(tmp_path / "k")
    signer = load_signer(key)
    store = open_store(url)
    assert isinstance(store, OciStore)
    v1 = publish(store, write(tmp_path / "b1", {T: chat(1)}, [signer]), "prod", [signer]).version
    v2 = publish(store, write(tmp_path / "b2", {T: chat(2)}, [signer]), "prod", [signer]).version
    publish(store, write(tmp_path / "b3", {T: chat(3)}, [signer]), "stg", [signer])
    assert store.referrers_api is True and not [t for t in reg.tags if t.startswith("sha256-")]
    assert sorted(t for t in reg.tags if not re.fullmatch(r"[0-9a-f]{12}", t)) == ["prod", "stg"]
    assert {v1, v2} <= set(reg.tags)
    reader = BundleReader(open_store(url), [load_verifier(pub)])
    state = reader.channel("prod")
    assert state.pointer is not None and state.pointer.version == v2 and state.pointer.serial == 2
    assert reader.files(v2)["manifest.sig.json"]
    # A refresh supersedes the pointer: the old one is deleted, the new one chosen.
    before = len(reg.deleted)
    refresh_channel(store, "prod", [signer])
    assert len(reg.deleted) == before + 1
    again = reader.channel("prod", etag=state.etag)
    assert again.pointer is not None and again.pointer.serial == 3
    # A no-change poll: one conditional manifest GET and the listing (the pointer and, when the
    # registry does not filter, the signatures too: one page each).
    gets = reg.referrer_gets
    assert reader.channel("prod", etag=again.etag).not_modified
    assert reg.referrer_gets == gets + (1 if reg.filters else 2)


def test_endless_pages_are_bounded(registry, tmp_path: Path) -> None:
    reg, url = registry
    key, _ = generate_keypair(tmp_path / "k")
    signer = load_signer(key)
    store = open_store(url)
    assert isinstance(store, OciStore)
    v = publish(store, write(tmp_path / "b1", {T: chat(1)}, [signer]), "prod", [signer]).version
    subject = sha256_digest(store.get_version(v) or b"")
    manifest = json.loads(reg.manifests[reg.tags["prod"]][1])
    for i in range(MAX_REFERRER_PAGES + 2):  # junk referrers, one per page
        junk = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "artifactType": CHANNEL_TYPE, "config": manifest["config"], "layers": [],
                           "subject": {"digest": subject}, "annotations": {"n": str(i)}}).encode()
        reg.manifests[sha256_digest(junk)] = ("application/vnd.oci.image.manifest.v1+json", junk)
    with pytest.raises(IntegrityError, match=f"more than {MAX_REFERRER_PAGES} pages"):
        list_referrers(store, subject, CHANNEL_TYPE)
