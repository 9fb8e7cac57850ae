"""A reached target whose key is equal on both sides is compiled once, and the
diff says exactly what compiling both sides says (the slow path, ``by_keys=False``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cfgc.compile.compiler import Compiler
from cfgc.review.diff import DiffResult, compare, open_sides
from cfgc.review.report.diff import render_json, render_markdown, render_text
from tests.fixtures.repos import git, git_init

CONFIG = """\
version: 1
hierarchy: ['base/*.yaml', 'envs/{env}.yaml']
targets: '{env}/chat'
prompts: prompts
schemas:
  - schema: schemas/app.json
"""
SCHEMA = {"type": "object", "properties": {"models": {"additionalProperties": {"$ref": "model.json"}}}}
MODEL = {"type": "object", "properties": {"temperature": {"type": "number", "maximum": 2},
                                          "api_key": {"type": "string", "pattern": "^env:"}}}
KEY = "sk-live-4f9a8b7c6d5e4f3a2b1c"


def both(root: Path, base: str, head: str | None = None) -> tuple[DiffResult, DiffResult]:
    fast = compare(*open_sides(root, base, head), None, base, head or "working tree")
    slow = compare(*open_sides(root, base, head), None, base, head or "working tree", by_keys=False)
    return fast, slow


def same_output(fast: DiffResult, slow: DiffResult) -> None:
    assert fast == slow
    for render in (render_json, render_text, render_markdown):
        assert render(fast) == render(slow)


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every target compiled, on either side."""
    seen: list[str] = []
    real = Compiler.try_compile

    def spy(self: Compiler, spec):  # type: ignore[no-untyped-def]
        seen.append(spec.name)
        return real(self, spec)

    monkeypatch.setattr(Compiler, "try_compile", spy)
    monkeypatch.setenv("CFGC_JOBS", "1")  # the spy sees every compile in this process
    return seen


def test_findings_of_a_target_compiled_once_are_those_of_both_sides(make_repo, compiles: list[str]) -> None:
    root = make_repo({
        "base/a.yaml": "models:\n  primary:\n    temperature: 5\n",  # breaks the schema
        "envs/dev.yaml": "url: '{{ config.nope }}'\n",  # does not compile
        "envs/prod.yaml": f"models:\n  primary:\n    api_key: {KEY}\n",  # a credential in clear
        "schemas/app.json": json.dumps(SCHEMA), "schemas/model.json": json.dumps(MODEL),
        "prompts/p/1.0.0.j2": "Hello {{ name }}\n",
    }, config=CONFIG)
    base = git_init(root)
    (root / "prompts/README.md").write_text("no compile reads this\n")  # reaches every target
    fast, slow = both(root, base)
    assert sorted(compiles) == ["dev/chat", "dev/chat", "dev/chat", "prod/chat", "prod/chat", "prod/chat"]
    same_output(fast, slow)
    assert fast.targets == () and fast.compiled == 2
    sides = {(d.severity, d.message.startswith("at the base: ")) for d in fast.errors}
    assert sides == {("error", False), ("warning", True)}  # each finding on each side
    rules = {d.rule for d in fast.errors}
    assert {"schema", "template"} <= rules and len(rules) >= 3, rules


def test_a_changed_layer_is_compiled_on_both_sides(make_repo, compiles: list[str]) -> None:
    root = make_repo({"base/a.yaml": "x: 1\n", "envs/dev.yaml": "y: 1\n", "envs/prod.yaml": "y: 2\n",
                      "schemas/app.json": json.dumps(SCHEMA), "schemas/model.json": json.dumps(MODEL),
                      "prompts/p/1.0.0.j2": "Hi\n"}, config=CONFIG)
    base = git_init(root)
    (root / "envs/dev.yaml").write_text("y: 3\n")
    (root / "prompts/README.md").write_text("beside the change\n")
    fast, _ = both(root, base)
    assert compiles.count("dev/chat") == 4  # both sides, on each of the two diffs
    assert compiles.count("prod/chat") == 1 + 2  # once by keys, twice on the slow path
    assert [t.name for t in fast.targets] == ["dev/chat"]


EDITS = [
    ("prompts/README.md", "new file beside the templates\n"),
    ("tenants/acme/prod/env.yaml", "\nextra_key: 1\n"),
    ("tenants/acme/dev/services/chat.yaml", "\nextra_key: 2\n"),
    ("tenants/globex/secrets.enc.yaml", "\n# comment\n"),
    ("prompts/summarize/1.2.0.j2", "\n{# edited #}\n"),
    ("schemas/service.json", "\n"),
    ("cfgc.yaml", "\n# edited\n"),
]


@pytest.mark.parametrize(("path", "text"), EDITS)
@pytest.mark.parametrize("committed", [False, True])
def test_by_keys_says_what_both_sides_compiled_say(example_repo: Path, path: str, text: str, committed: bool) -> None:
    base = git_init(example_repo)
    with open(example_repo / path, "a") as f:
        f.write(text)
    head = None
    if committed:
        git(example_repo, "add", "-A")
        git(example_repo, "commit", "-q", "-m", "edit")
        head = "HEAD"
    same_output(*both(example_repo, base, head))


def test_a_git_side_without_config_keys_nothing(make_repo) -> None:
    root = make_repo({"base/a.yaml": "x: 1\n", "envs/dev.yaml": "y: 1\n"}, config=None)
    base = git_init(root)
    (root / "cfgc.yaml").write_text(CONFIG.replace("  - schema: schemas/app.json\n", "").replace("schemas:\n", ""))
    same_output(*both(root, base))


@pytest.mark.parametrize(("path", "text"), [
    ("prompts/p/1.1.0.j2", "Hello again\n"),  # the pinned version of every target moves
    ("schemas/model.json", json.dumps({"properties": {"temperature": {"maximum": 0.1}}})),  # a new finding
    ("cfgc.yaml", CONFIG + "limits: {template_output_chars: 4}\n"),  # the template no longer fits
])
def test_a_global_input_that_changes_values_or_findings_is_seen(make_repo, path: str, text: str) -> None:
    root = make_repo({"base/a.yaml": "models:\n  primary:\n    temperature: 1\nprompt: !prompt p@^1.0\n",
                      "envs/dev.yaml": "url: 'https://{{ env }}.example.com'\n", "envs/prod.yaml": "y: 2\n",
                      "schemas/app.json": json.dumps(SCHEMA), "schemas/model.json": json.dumps(MODEL),
                      "prompts/p/1.0.0.j2": "Hello\n"}, config=CONFIG)
    base = git_init(root)
    (root / path).write_text(text)
    fast, slow = both(root, base)
    same_output(fast, slow)
    assert fast.targets or fast.errors  # the change shows
