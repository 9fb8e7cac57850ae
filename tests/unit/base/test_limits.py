"""The ``limits`` section of cfgc.yaml reaches the templates of a build."""

import pytest

from cfgc.base.errors import InputError
from cfgc.base.limits import DEFAULT_LIMITS, Limits
from cfgc.compile.compiler import Compiler
from cfgc.repo.config import load_config
from cfgc.repo.sources import DirSource

CONFIG = 'version: 1\nhierarchy: ["base/{svc}.yaml"]\ntargets: "{svc}"\n'


def _compile(make_repo, limits: str, template: str):
    root = make_repo({"base/a.yaml": f'v: "{template}"\n'}, config=CONFIG + limits)
    compiler = Compiler(DirSource(root))
    return compiler, compiler.compile(compiler.specs()[0])


def test_defaults_when_cfgc_yaml_says_nothing(make_repo) -> None:
    compiler, target = _compile(make_repo, "", "{{ 'x' * 2000 }}")
    assert compiler.config.limits == DEFAULT_LIMITS and len(target.value["v"]) == 2000


def test_cfgc_yaml_lowers_and_raises_limits(make_repo) -> None:
    lowered = "limits: {template_output_chars: 1000, template_loop_iterations: 10, template_seconds: 2.5}\n"
    compiler = _compile(make_repo, lowered, "ok")[0]
    assert compiler.config.limits == Limits(1000, 10, 2.5)
    with pytest.raises(InputError) as info:
        _compile(make_repo, lowered, "{{ 'x' * 2000 }}")
    assert str(info.value.location) == "base/a.yaml:1:1" and "limits.template_output_chars" in info.value.message


def test_a_repo_cannot_raise_a_limit_only_the_operator_can(make_repo, monkeypatch) -> None:
    """cfgc.yaml is part of the pull request: asking for more than the ceiling gets the ceiling."""
    raised = "limits: {template_loop_iterations: 200000, template_seconds: 3600}\n"
    compiler = _compile(make_repo, raised, "ok")[0]
    assert compiler.config.limits == DEFAULT_LIMITS
    with pytest.raises(InputError, match="template_loop_iterations"):
        _compile(make_repo, raised, "{{ range(150000)|list|length }}")
    monkeypatch.setenv("CFGC_LIMITS", "template_loop_iterations=300000")
    assert _compile(make_repo, raised, "{{ range(150000)|list|length }}")[1].value["v"] == 150000
    assert _compile(make_repo, raised, "ok")[0].config.limits.template_loop_iterations == 200000
    assert _compile(make_repo, "", "ok")[0].config.limits.template_loop_iterations == 300000


@pytest.mark.parametrize("bad", ["template_loop_iterations", "cpu=1", "template_seconds=-1", "template_output_chars=x"])
def test_a_bad_operator_ceiling_is_a_usage_error(bad: str) -> None:
    from cfgc.base.errors import UsageError
    from cfgc.base.limits import operator_ceiling

    with pytest.raises(UsageError, match="CFGC_LIMITS"):
        operator_ceiling(bad)


@pytest.mark.parametrize("bad", ["limits: {template_seconds: 0}\n", "limits: {cpu: 1}\n",
                                 "limits: {template_output_chars: -1}\n"])
def test_bad_limits_are_refused_with_their_line(make_repo, bad: str) -> None:
    root = make_repo({}, config=CONFIG + bad)
    with pytest.raises(InputError) as info:
        load_config(DirSource(root))
    assert str(info.value).startswith("cfgc.yaml:4:")
