"""OCI-standard parts of the version document: image.source normalisation and the Flux content layer."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from cfgc.stores.bounds import gunzip
from cfgc.stores.layout import FLUX_CONTENT, layer_map, parse_version, prepare, source_url


@pytest.mark.parametrize(("remote", "url"), [
    ("https://git.example.com/acme/config.git", "https://git.example.com/acme/config.git"),
    ("https://user:token@git.example.com/acme/config.git", "https://git.example.com/acme/config.git"),
    ("http://git.example.com:8080/a/b", "https://git.example.com:8080/a/b"),
    ("git@github.com:acme/config.git", "https://github.com/acme/config.git"),
    ("ssh://git@github.com:22/acme/config.git", "https://github.com/acme/config.git"),
    ("/home/me/src/config", None),
    ("../config", None),
    ("file:///srv/git/config.git", None),
    ("C:/src/config", None),
    ("", None),
    (None, None),
])
def test_source_url(remote: object, url: str | None) -> None:
    assert source_url(remote) == url


def test_flux_layer_is_reproducible_first_and_ignored_by_cfgc(make_bundle, tmp_path: Path) -> None:
    b = make_bundle({"acme/prod/a": {"v": 1}, "acme/prod/b": {"v": 2}}, prompts={"sys@1.0.0": "hi {{ x }}"})
    plain, flux, again = prepare(b), prepare(b, flux=True), prepare(b, flux=True)
    assert flux.version_doc == again.version_doc and flux.version == plain.version
    doc = json.loads(flux.version_doc)
    assert doc["layers"][0]["mediaType"] == FLUX_CONTENT
    assert doc["layers"][1:] == json.loads(plain.version_doc)["layers"]
    tgz = next(x for x in flux.blobs if x.media_type == FLUX_CONTENT).data
    with tarfile.open(fileobj=io.BytesIO(gunzip(tgz, 10**7, "flux")), mode="r:") as tar:
        members = {m.name: m for m in tar.getmembers()}
        for name, m in members.items():
            assert m.mtime == 0 and m.uid == 0 and not m.uname
            if m.isfile():
                assert tar.extractfile(m).read() == (b / name).read_bytes()  # type: ignore[union-attr]
    files = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert sorted(n for n, m in members.items() if m.isfile()) == files
    want = {f"targets/acme/prod/{t}.json": json.loads((b / "manifest.json").read_bytes())["targets"][f"acme/prod/{t}"]
            ["digest"] for t in "ab"}
    want["prompts/sys/1.0.0.j2"] = json.loads((b / "manifest.json").read_bytes())["prompts"]["sys@1.0.0"]["digest"]
    assert set(layer_map(parse_version(flux.version, flux.version_doc), want)) == set(want)
