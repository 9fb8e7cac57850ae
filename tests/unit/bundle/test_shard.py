"""The shard split: parsing I/N, and an assignment that depends on a target's name alone."""

from __future__ import annotations

import pytest

from cfgc.base.errors import UsageError
from cfgc.bundle.shard import MAX_SHARDS, Shard, parse_shard, shard_of


@pytest.mark.parametrize("text", ["", "3", "0/3", "4/3", "a/3", "1/0", "-1/3", "1/3/4", f"1/{MAX_SHARDS + 1}"])
def test_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_shard(text)


def test_parse_shard() -> None:
    assert parse_shard("2/8") == Shard(2, 8)
    assert str(parse_shard("8/8")) == "8/8"


def test_every_target_has_exactly_one_shard_and_the_split_is_balanced() -> None:
    names = [f"t{i}/prod/svc{i % 97}" for i in range(8000)]
    for n in (1, 3, 8):
        owners = [[s for s in range(1, n + 1) if Shard(s, n).owns(name)] for name in names]
        assert all(len(o) == 1 for o in owners)
        sizes = [sum(1 for o in owners if o[0] == s) for s in range(1, n + 1)]
        assert max(sizes) - min(sizes) < 0.1 * len(names) / n  # hash split: within 10% of an even share


def test_adding_targets_moves_no_other_target() -> None:
    before = {f"acme/prod/s{i}": shard_of(f"acme/prod/s{i}", 8) for i in range(500)}
    more = {**{f"beta/dev/s{i}": 0 for i in range(500)}, **before}
    assert {n: shard_of(n, 8) for n in more if n in before} == before
