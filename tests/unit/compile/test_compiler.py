from cfgc.base.errors import CfgcError
from cfgc.bundle import pipeline
from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import DirSource

CONFIG = """\
version: 1
hierarchy:
  - base/*.yaml
  - envs/{env}/{service}.yaml
targets: "{env}/{service}"
prompts: prompts
"""


def compile_one(make_repo, files, name="prod/chat"):
    """The whole run's findings, and the compiled target ``name`` (None if it failed)."""
    c = Compiler(DirSource(make_repo(files, config=CONFIG)))
    result = pipeline.run(c, jobs=1)
    spec = next((s for s in c.specs() if s.name == name), None)
    if spec is None:
        return c, result, None
    try:
        return c, result, c.compile(spec)
    except CfgcError:
        return c, result, None


def test_late_binding_extends_sees_higher_layers(make_repo) -> None:
    _, result, t = compile_one(make_repo, {
        "base/a.yaml": "providers: {openai: {timeout_s: 30, url: https://x}}\nmodels: {m: {$extends: providers.openai}}\n",
        "envs/prod/chat.yaml": "providers: {openai: {timeout_s: 10}}\n",
    })
    assert result.ok
    assert t.value["models"]["m"] == {"timeout_s": 10, "url": "https://x"}
    hist = t.provenance.history(("models", "m", "timeout_s"))
    assert [str(c.location) for c in hist] == ["base/a.yaml:1:22", "envs/prod/chat.yaml:1:22"]
    assert hist[-1].via == "providers.openai"


def test_templates_see_extends_and_prompts_are_pinned(make_repo) -> None:
    _, result, t = compile_one(make_repo, {
        "base/a.yaml": "p: !prompt greet@^1\nurl: 'https://{{ service }}.{{ env }}/{{ config.p }}'\n",
        "envs/prod/chat.yaml": "{}\n",
        "prompts/greet/1.0.0.j2": "hi {{ name }}\n", "prompts/greet/1.4.2.j2": "hello {{ name }}\n",
        "prompts/greet/2.0.0.j2": "yo\n",
    })
    assert result.ok, result.diagnostics
    assert t.value == {"p": "greet@1.4.2", "url": "https://chat.prod/greet@1.4.2"}
    assert t.prompts == ("greet@1.4.2",)
    assert [p.pinned for p in result.prompts] == ["greet@1.0.0", "greet@1.4.2", "greet@2.0.0"]


def test_errors_in_shared_layers_are_grouped(make_repo) -> None:
    files = {"base/a.yaml": "a: [\n"}
    for svc in ("a", "b", "c"):
        files[f"envs/prod/{svc}.yaml"] = "x: 1\n"
    _, result, _ = compile_one(make_repo, files)
    assert len(result.diagnostics) == 1
    d = result.diagnostics[0]
    assert d.targets == ("prod/a", "prod/b", "prod/c")
    assert d.location.path == "base/a.yaml"


def test_one_bad_target_does_not_hide_others(make_repo) -> None:
    _, result, t = compile_one(make_repo, {
        "base/a.yaml": "a: 1\n", "envs/prod/chat.yaml": "b: 2\n", "envs/prod/bad.yaml": "c: '{{ nope }}'\n",
    })
    assert not result.ok
    assert t is not None and t.value == {"a": 1, "b": 2}
    assert [d.targets for d in result.diagnostics] == [("prod/bad",)]


def test_layer_files_are_parsed_once(make_repo, monkeypatch) -> None:
    files = {"base/a.yaml": "a: 1\n"} | {f"envs/prod/s{i}.yaml": f"i: {i}\n" for i in range(5)}
    c = Compiler(DirSource(make_repo(files, config=CONFIG)))
    reads: list[str] = []
    orig = c.source.read
    monkeypatch.setattr(c.source, "read", lambda p: reads.append(p) or orig(p))
    assert pipeline.run(c, jobs=1).ok
    assert reads.count("base/a.yaml") == 1
