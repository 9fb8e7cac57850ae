"""A folder swapped for a link to a folder outside the repo while the working tree is
walked (between its parent's listing and the walk into it): nothing outside the repo
is ever listed, so its names appear in no output, no error and no bundle.

The swap is injected at the listing step itself (``os.scandir`` wrapped so that the
moment the root's listing is taken, ``tenants/`` becomes a link), which is the
window a racing attacker aims for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cfgc.base.errors import CfgcError
from cfgc.repo import listing
from cfgc.repo.sources import DirSource
from tests.fixtures.cli import run
from tests.fixtures.repos import RepoFactory

CANARY = "canary7f3e"  # a tenant name only the outside folder holds


def _outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside-tenants"
    (out / CANARY / "dev").mkdir(parents=True)
    (out / CANARY / "tenant.yaml").write_text("t: 1\n")
    (out / CANARY / "dev" / f"{CANARY}.yaml").write_text("s: 1\n")
    return out


def _swap_on_listing(monkeypatch: pytest.MonkeyPatch, root: Path, outside: Path) -> list[bool]:
    """Wrap scandir: when a listing that holds ``tenants`` closes, ``root/tenants`` becomes a link to ``outside``."""
    real = os.scandir
    swapped: list[bool] = []

    class Swapping:
        def __init__(self, where: Any) -> None:
            self.it = real(where)
            self.names: list[str] = []

        def __enter__(self) -> Swapping:
            return self

        def __exit__(self, *a: object) -> None:
            self.it.close()
            if "tenants" in self.names and not swapped and (root / "tenants").is_dir():
                os.rename(root / "tenants", root.parent / f"{root.name}-moved-tenants")
                os.symlink(outside, root / "tenants")
                swapped.append(True)

        def close(self) -> None:
            self.__exit__()

        def __iter__(self) -> Swapping:
            return self

        def __next__(self) -> os.DirEntry[str]:
            e = next(self.it)
            self.names.append(e.name)
            return e

    monkeypatch.setattr(listing.os, "scandir", Swapping)
    return swapped


def _repo(make_repo: RepoFactory) -> Path:
    return make_repo({
        "base/a.yaml": "a: 1\n",
        "envs/dev.yaml": "e: 1\n",
        "tenants/acme/tenant.yaml": "t: 1\n",
        "tenants/acme/dev/chat.yaml": "s: 1\n",
    })


def test_a_folder_swapped_for_a_link_mid_walk_is_listed_as_a_file(
    make_repo: RepoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(make_repo)
    swapped = _swap_on_listing(monkeypatch, root, _outside(tmp_path))
    files = DirSource(root).files()
    assert swapped
    assert not any(CANARY in f for f in files)
    # What a listing taken a moment later shows: tenants is a link, listed as a file, not entered.
    assert "tenants" in files and not any(f.startswith("tenants/") for f in files)


def test_a_build_racing_a_folder_swap_never_names_what_is_outside(
    make_repo: RepoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(make_repo)
    out = tmp_path / "out"
    swapped = _swap_on_listing(monkeypatch, root, _outside(tmp_path))
    code, output = run("build", "--repo", str(root), "--out", str(out), "--no-cache", "-j", "1")
    assert swapped
    assert code in (0, 1), output  # a build or an input error, never a bug
    assert "Traceback" not in output
    assert CANARY not in output
    written = [p for p in out.rglob("*")] if out.exists() else []
    assert not any(CANARY in str(p) for p in written)
    assert not any(CANARY.encode() in p.read_bytes() for p in written if p.is_file())


def test_the_api_racing_a_folder_swap_raises_nothing_naming_the_outside(
    make_repo: RepoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cfgc

    root = _repo(make_repo)
    swapped = _swap_on_listing(monkeypatch, root, _outside(tmp_path))
    try:
        cfgc.build_bundle(root, tmp_path / "out", cache=False, jobs=1)
    except CfgcError as e:
        assert CANARY not in str(e) and CANARY not in repr(e.location)
    assert swapped


def test_a_folder_listed_again_alone_is_never_listed_through_a_link(tmp_path: Path) -> None:
    """The in-place check lists a changed folder by itself: a link there is refused, not followed."""
    from cfgc.repo.sources import folder_entries

    root = tmp_path / "r"
    root.mkdir()
    os.symlink(_outside(tmp_path), root / "tenants")
    with pytest.raises(OSError):
        folder_entries(str(root / "tenants"))
    assert folder_entries(str(root)) == ["tenants"]  # the link itself: an entry, never entered


def test_a_folder_listed_again_below_a_link_is_never_listed(tmp_path: Path) -> None:
    """A link higher up the path (``tenants`` swapped for a link, ``tenants/acme`` listed
    again) is refused too: each folder on the way down is opened without following links."""
    from cfgc.repo.sources import folder_entries

    root = tmp_path / "r"
    root.mkdir()
    outside = _outside(tmp_path)
    (outside / "acme").mkdir(exist_ok=True)
    (outside / "acme" / CANARY).write_text("")
    os.symlink(outside, root / "tenants")
    with pytest.raises(OSError):
        folder_entries("tenants/acme/", str(root))
    (root / "real" / "acme").mkdir(parents=True)
    (root / "real" / "acme" / "x.yaml").write_text("")
    assert folder_entries("real/acme/", str(root)) == ["x.yaml"]
    assert sorted(folder_entries("", str(root))) == ["real/", "tenants"]  # the root itself; the link an entry
