"""cfgc's errors cross a worker's pipe by pickle: each comes back as it was raised."""

from __future__ import annotations

import pickle

import pytest

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import (
    EXIT_EXTERNAL,
    ExternalError,
    InputError,
    IntegrityError,
    InvalidConfig,
    Location,
    MultipleErrors,
)


def _round_trip(error: Exception) -> Exception:
    return pickle.loads(pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL))


def test_an_error_keeps_its_location() -> None:
    error = InputError("bad value", Location("tenants/a/app.yaml", 3, 7))
    back = _round_trip(error)
    assert type(back) is InputError
    assert back.location == Location("tenants/a/app.yaml", 3, 7)
    assert str(back) == "tenants/a/app.yaml:3:7: error: bad value"


def test_invalid_config_rebuilds_with_its_diagnostics_and_targets() -> None:
    found = [Diagnostic("error", "no such model", Location("g.yaml", 2, 1), "llm.routing", ("t/a",)),
             Diagnostic("warning", "old key", None)]
    back = _round_trip(InvalidConfig(found, ["t/a", "t/b"]))
    assert isinstance(back, InvalidConfig)
    assert back.diagnostics == tuple(found)
    assert back.targets == ("t/a", "t/b")
    assert str(back) == "g.yaml:2:1: error: no such model"
    assert back.exit_code == InvalidConfig.exit_code


def test_multiple_errors_keep_their_members_and_exit_code() -> None:
    back = _round_trip(MultipleErrors([InputError("a", Location("x.yaml", 1, 1)), ExternalError("git failed")]))
    assert isinstance(back, MultipleErrors)
    assert [type(e) for e in back.errors] == [ExternalError, InputError]
    assert back.exit_code == EXIT_EXTERNAL
    assert str(back) == "error: git failed\nx.yaml:1:1: error: a"


@pytest.mark.parametrize("cls", [InputError, ExternalError, IntegrityError])
def test_the_class_decides_the_exit_code_after_a_round_trip(cls: type[InputError]) -> None:
    back = _round_trip(cls("m"))
    assert type(back) is cls and back.exit_code == cls.exit_code and back.args == ("m",)
