"""Built-in LLM checks: routing names real models, no fallback cycles, prompts resolve."""

from __future__ import annotations

from cfgc.repo.sources import DirSource
from cfgc.review.checks import run_checks
from tests.fixtures.repos import STANDARD_CONFIG

MODELS = """\
models:
  primary: {model_id: gpt-4o}
  fast: {model_id: gpt-4o-mini}
routing:
  default_model: primary
  fallbacks: [fast]
"""


def _check(make_repo, service: str, files=None, config=STANDARD_CONFIG):  # type: ignore[no-untyped-def]
    root = make_repo({"base/a.yaml": MODELS, "envs/prod.yaml": "{}\n", "tenants/acme/tenant.yaml": "{}\n",
                      "tenants/acme/prod/chat.yaml": service, **(files or {})}, config=config)
    return root, run_checks(DirSource(root))


def test_clean_routing_passes(make_repo) -> None:  # type: ignore[no-untyped-def]
    _, result = _check(make_repo, "{}\n")
    assert result.diagnostics == () and result.ok and result.targets == ("acme/prod/chat",)


def test_unknown_fallback_model_at_its_line(make_repo) -> None:  # type: ignore[no-untyped-def]
    _, result = _check(make_repo, "routing:\n  fallbacks: !append [fallback_eu]\n")
    [d] = result.diagnostics
    assert d.rule == "llm.routing" and d.severity == "error"
    assert "routing.fallbacks[1] names model 'fallback_eu'" in d.message and "have: fast, primary" in d.message
    assert str(d.location) == "tenants/acme/prod/chat.yaml:2:23"  # the appended item itself


def test_default_model_in_fallbacks_is_a_loop(make_repo) -> None:  # type: ignore[no-untyped-def]
    _, result = _check(make_repo, "routing:\n  fallbacks: [fast, primary]\n")
    [d] = result.diagnostics
    assert "loops back to 'primary'" in d.message and "primary → fast → primary" in d.message


def test_per_model_fallback_cycle(make_repo) -> None:  # type: ignore[no-untyped-def]
    _, result = _check(make_repo, "models:\n  primary: {fallback: fast}\n  fast: {fallback: primary}\n")
    msgs = sorted(d.message for d in result.diagnostics)
    assert msgs == ["fallback cycle: fast → primary → … → fast", "fallback cycle: primary → fast → … → primary"]
    assert {d.location.line for d in result.diagnostics if d.location} == {2, 3}


def test_pinned_prompt_reference_must_exist(make_repo) -> None:  # type: ignore[no-untyped-def]
    config = STANDARD_CONFIG + "prompts: prompts/\n"
    files = {"prompts/chat/1.0.0.j2": "Hello {{ tenant }}\n"}
    _, result = _check(make_repo, "prompts:\n  system: chat@1.0.0\n  other: chat@2.0.0\n", files, config)
    [d] = result.diagnostics
    assert d.message == "prompt 'chat@2.0.0' does not exist in the prompt library"
    assert str(d.location) == "tenants/acme/prod/chat.yaml:3:3"


def test_template_uses_only_declared_variables(make_repo) -> None:  # type: ignore[no-untyped-def]
    config = STANDARD_CONFIG + "prompts: prompts/\n"
    files = {"prompts/chat/1.0.0.j2": "{# variables: tenant #}\nHello {{ tenant }}.\nYou sell {{ product }}.\n",
             "prompts/chat/1.1.0.j2": "No declaration: {{ anything }}\n"}
    _, result = _check(make_repo, "{}\n", files, config)
    [d] = result.diagnostics
    assert d.rule == "llm.prompt" and str(d.location) == "prompts/chat/1.0.0.j2:3:1"
    assert "{{ product }}" in d.message and "declared: tenant" in d.message


def test_validation_errors_are_included(make_repo) -> None:  # type: ignore[no-untyped-def]
    _, result = _check(make_repo, "models: [\n")
    assert not result.ok and result.diagnostics[0].location.path == "tenants/acme/prod/chat.yaml"  # type: ignore[union-attr]


def test_a_broken_template_loaded_before_the_targets_fails_each_target_that_pins_it(make_repo) -> None:  # type: ignore[no-untyped-def]
    """The library is loaded whole before any target is checked; a template
    that fails to load is not kept, so every target pinning it still fails on
    it (the same one finding, naming them, as when each target loaded what it
    pinned: main's result), and one pinning a good version compiles."""
    config = STANDARD_CONFIG + "prompts: prompts/\n"
    files = {"prompts/chat/1.0.0.j2": "Hello {{ tenant }}\n", "prompts/chat/2.0.0.j2": "Hello {% if %}\n",
             "tenants/acme/dev/chat.yaml": "prompts:\n  system: !prompt chat@2.x\n",
             "tenants/acme/stage/chat.yaml": "prompts:\n  system: !prompt chat@1.x\n",
             "envs/dev.yaml": "{}\n", "envs/stage.yaml": "{}\n"}
    _, result = _check(make_repo, "prompts:\n  system: !prompt chat@2.0.0\n", files, config)
    found = [(d.rule, str(d.location), d.targets) for d in result.diagnostics]
    # one finding for the template, naming both targets that pin it (and none for the library on its own)
    assert found == [("template", "prompts/chat/2.0.0.j2:1", ("acme/dev/chat", "acme/prod/chat"))]
    assert "acme/stage/chat" in result.targets
