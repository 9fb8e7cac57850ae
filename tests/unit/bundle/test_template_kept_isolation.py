"""A process that builds one repo and then another (an API host) carries nothing of the first
repo's templates into the second's in-place state, and records nothing once a build is done."""

from __future__ import annotations

import shutil
from pathlib import Path

import cfgc
from cfgc.compile.template_kept import KEPT
from tests.unit.bundle.test_incremental_noyaml import SERVICE

EXAMPLE = Path(__file__).parents[3] / "examples" / "repo"
CANARY = "tenantA-only-template"


def _copy(dst: Path) -> Path:
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("test-keys-DO-NOT-USE"))
    return dst


def _holding(folder: Path, needle: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_second_repo_s_state_holds_nothing_of_the_first(tmp_path: Path) -> None:
    a, b = _copy(tmp_path / "A"), _copy(tmp_path / "B")
    svc = a / "base/10-service.yaml"
    svc.write_text(svc.read_text() + f"internal_note: \"{{{{ '{CANARY}-' ~ config.org.region | upper }}}}\"\n")
    cfgc.build_bundle(a, tmp_path / "outA", cache=tmp_path / "cacheA", jobs=1)
    assert _holding(tmp_path / "cacheA", CANARY.encode())  # A's own state keeps A's render
    assert not KEPT.recording
    cfgc.build_bundle(b, tmp_path / "outB", cache=tmp_path / "cacheB", jobs=1)
    assert _holding(tmp_path / "cacheB", CANARY.encode()) == []
    assert not KEPT.recording


def test_an_in_place_build_leaves_nothing_recording(tmp_path: Path) -> None:
    a = _copy(tmp_path / "A")
    out, cache = tmp_path / "out", tmp_path / "cache"
    cfgc.build_bundle(a, out, cache=cache, jobs=1)
    inode = out.stat().st_ino
    with open(a / SERVICE, "a") as f:
        f.write("marker_isolation: 1\n")
    cfgc.build_bundle(a, out, cache=cache, jobs=1)
    assert out.stat().st_ino == inode  # updated in place, not swapped for a full build's
    assert not KEPT.recording and KEPT.kept() == {"reads": [], "results": []}
