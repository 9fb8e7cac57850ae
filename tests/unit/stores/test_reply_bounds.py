"""Replies nobody signs are bounded too: OCI tag listings (size and pages), any other registry reply,
GitHub API replies (against a tiny server on 127.0.0.1), and a FIFO planted in a file store."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cfgc.base.errors import ExternalError, IntegrityError
from cfgc.stores import bounds
from cfgc.stores.oci import OciStore
from cfgc.stores.oci_http import Registry


class _Endless(BaseHTTPRequestHandler):
    """A tag listing whose every page links to another; /big answers more than it may."""

    pages = 0

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        type(self).pages += 1
        if self.path.startswith("/big"):
            data = b"x" * (2 * 1024 * 1024)
            self.send_response(200)
        else:
            data = json.dumps({"name": "x/y", "tags": [f"v{type(self).pages}"]}).encode()
            self.send_response(200)
            self.send_header("Link", f'</v2/x/y/tags/list?n=1000&last=v{type(self).pages}>; rel="next"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_PUT = do_GET  # noqa: N815 - http.server API


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``host:port`` of ``handler`` served on 127.0.0.1 until the test ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def endless() -> Iterator[str]:
    _Endless.pages = 0
    yield from _serve(_Endless)


def test_a_tag_listing_that_never_ends_is_refused(endless: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import cfgc.stores.oci as oci

    monkeypatch.setattr(oci, "MAX_TAG_PAGES", 5)
    with pytest.raises(IntegrityError, match="past 5 pages"):
        OciStore(Registry(endless), "x/y").list_versions()
    assert _Endless.pages == 5


def test_a_reply_with_no_bound_of_its_own_is_bounded(endless: str) -> None:
    assert bounds.REPLY_MAX < 2 * 1024 * 1024
    with pytest.raises(IntegrityError, match="more than the limit"):
        Registry(endless).request("PUT", "/big", b"")


def test_a_github_reply_over_its_bound_is_refused(endless: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from cfgc.review import github

    monkeypatch.setattr(github, "MAX_REPLY", 1000)
    api = github.GitHubAPI(f"http://{endless}", "t0ken", "o/r")
    with pytest.raises(ExternalError, match="a reply over 1000 bytes") as e:
        api.request("GET", "/big")
    assert "t0ken" not in str(e.value)


def test_a_fifo_planted_in_a_file_store_is_refused_without_waiting(tmp_path: Path) -> None:
    import os

    from cfgc.stores.file import FileStore
    from tests.fixtures.files import no_hang

    (tmp_path / "channels").mkdir()
    os.mkfifo(tmp_path / "channels" / "prod.json")
    with no_hang(), pytest.raises(IntegrityError, match="prod.json is not a regular file"):
        FileStore(tmp_path).get_channel("prod")


class _Listing(BaseHTTPRequestHandler):
    """One tag listing page (``body``), linking to itself ``more`` more times."""

    body = b""
    more = 0

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self.send_response(200)
        if type(self).more > 0:
            type(self).more -= 1
            self.send_header("Link", '</v2/x/y/tags/list?n=1000&last=z>; rel="next"')
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@pytest.fixture
def listing() -> Iterator[str]:
    yield from _serve(_Listing)


@pytest.mark.parametrize("body", [b"[]", b'{"tags": 5}', b'{"tags": [1]}', b'{"tags": "abc"}', b"not json"])
def test_a_tag_listing_of_the_wrong_shape_is_an_integrity_error(listing: str, body: bytes) -> None:
    _Listing.body, _Listing.more = body, 0
    with pytest.raises(IntegrityError, match="not a JSON object with a list of tags"):
        OciStore(Registry(listing), "x/y").list_versions()


def test_a_repository_listed_with_null_tags_has_no_versions(listing: str) -> None:
    _Listing.body, _Listing.more = b'{"name": "x/y", "tags": null}', 0
    assert OciStore(Registry(listing), "x/y").list_versions() == []


def test_only_the_tags_asked_for_are_kept_and_they_are_bounded(listing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import cfgc.stores.oci as oci

    versions = [f"{i:012x}" for i in range(2)]
    _Listing.body = json.dumps({"tags": versions + [f"junk-{i}" for i in range(500)]}).encode()
    monkeypatch.setattr(oci, "MAX_LISTED_TAGS", 3)
    _Listing.more = 0
    assert OciStore(Registry(listing), "x/y").list_versions() == versions  # 502 listed, 2 kept: within 3
    _Listing.more = 1  # two pages of 2 versions each: 4 kept > 3
    with pytest.raises(IntegrityError, match="more than 3 tags"):
        OciStore(Registry(listing), "x/y").list_versions()
