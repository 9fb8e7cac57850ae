import pickle

from cfgc.base.tags import DELETE
from cfgc.compile.merging import MISSING


def test_sentinels_keep_identity_across_processes() -> None:
    # Diff and check results cross from fork workers by pickle; `is MISSING` must still hold.
    for s in (MISSING, DELETE):
        assert pickle.loads(pickle.dumps(s)) is s
    assert MISSING is not DELETE
    assert pickle.loads(pickle.dumps({"before": MISSING}))["before"] is MISSING
