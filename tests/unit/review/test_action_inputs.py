"""How the action's inputs become one cfgc command line (cfgc.review.action)."""

from __future__ import annotations

import pytest

from cfgc.base.errors import UsageError
from cfgc.review.action import cli_args


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("CFGC_COMMAND", "CFGC_REPO", "CFGC_TARGET", "CFGC_FORMAT", "CFGC_ARGS", "CFGC_OUT",
              "CFGC_FAIL_ON_EXISTING", "CFGC_BUNDLE", "CFGC_TO", "CFGC_CHANNEL"):
        monkeypatch.delenv(k, raising=False)


def test_each_input_is_one_argument_and_args_split_like_a_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFGC_TARGET", "acme/* $(touch /tmp/x)")
    monkeypatch.setenv("CFGC_ARGS", "--sign-key 'my key.pem' $HOME")
    monkeypatch.setenv("CFGC_COMMAND", "build")
    monkeypatch.setenv("CFGC_OUT", "build/bundle")
    assert cli_args() == ["build", "--repo", ".", "--target", "acme/* $(touch /tmp/x)", "--out", "build/bundle",
                          "--sign-key", "my key.pem", "$HOME"]


def test_check_defaults_to_github_annotations_and_passes_fail_on_existing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFGC_FAIL_ON_EXISTING", "true")
    monkeypatch.setenv("CFGC_FORMAT", "sarif")
    assert cli_args() == ["check", "--repo", ".", "--format", "sarif", "--fail-on-existing"]


@pytest.mark.parametrize(("env", "message"), [
    ({"CFGC_COMMAND": "deploy"}, "unsupported command: deploy"),
    ({"CFGC_FORMAT": "xml"}, "unsupported format: xml"),
    ({"CFGC_ARGS": "--target 'acme/*"}, "args: No closing quotation"),
    ({"CFGC_COMMAND": "diff"}, "needs base-ref"),
])
def test_bad_inputs_are_usage_errors(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(UsageError, match=message):
        cli_args()
