"""The full build's read-back of OUT's manifest (cfgc.bundle.outrecord) is bounded: a manifest
over the bound leaves no in-place state (the next build is a full one), never an unbounded read."""

from __future__ import annotations

from pathlib import Path

import pytest

import cfgc
from cfgc.bundle import outrecord, outstate


def _states(cache: Path) -> list[Path]:
    outs = cache / "outs"
    return sorted(outs.iterdir()) if outs.is_dir() else []


def test_a_manifest_over_the_bound_leaves_no_in_place_state(
    example_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    cfgc.build_bundle(example_repo, out, cache=cache, jobs=1)
    assert outstate.state_path(cache, out) in _states(cache)  # within the bound: recorded
    size = (out / "manifest.json").stat().st_size

    monkeypatch.setattr(outrecord, "MAX_MANIFEST_BYTES", size - 1)
    cfgc.build_bundle(example_repo, tmp_path / "out2", cache=cache, jobs=1)  # the build itself succeeds
    assert outstate.state_path(cache, tmp_path / "out2") not in _states(cache)
    assert (tmp_path / "out2" / "manifest.json").read_bytes() == (out / "manifest.json").read_bytes()

    monkeypatch.setattr(outrecord, "MAX_MANIFEST_BYTES", size)  # exactly at the bound: read whole
    cfgc.build_bundle(example_repo, tmp_path / "out3", cache=cache, jobs=1)
    assert outstate.state_path(cache, tmp_path / "out3") in _states(cache)




def test_an_inode_past_63_bits_leaves_no_state_and_the_build_succeeds(
    example_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # overlayfs with xino, NFS and SMB can give inode numbers of 2**63 or more, which the
    # state's 64-bit integers cannot hold (array('q'): OverflowError): exit 3 after OUT
    # was replaced, before.  The state is made as the stamps are packed: fail the packing.
    out, cache = tmp_path / "out", tmp_path / "cache"
    cfgc.build_bundle(example_repo, out, cache=cache, jobs=1)
    assert outstate.state_path(cache, out) in _states(cache)

    def too_big(*_args: object, **_kwargs: object) -> None:
        raise OverflowError("signed integer is greater than maximum")

    monkeypatch.setattr(outrecord, "_record", too_big)
    cfgc.build_bundle(example_repo, tmp_path / "out2", cache=cache, jobs=1)
    assert (tmp_path / "out2" / "manifest.json").is_file()
    assert outstate.state_path(cache, tmp_path / "out2") not in _states(cache)
