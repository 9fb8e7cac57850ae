"""A compiled target's secret references are those a full walk of its value finds, order included,
over generated repos: layered files with SOPS values, ``$extends``, templates (a whole-value one
can bring a reference or a mapping of them), anchors and aliases, merge tags and prompts.

``Compiler.compile`` takes them from the scan before the late stages
(:func:`cfgc.compile.late_refs.refs_after`) and from the shared layers' walk; this checks
both against :func:`cfgc.base.secretrefs.secret_refs` of the result, with the shared-node
bound drawn small too (part of a shared value registered).  A review's differential over
1,000 such repos, kept small enough for CI.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cfgc.base.errors import InputError
from cfgc.base.secretrefs import secret_refs
from cfgc.compile.compiler import Compiler
from cfgc.repo.sources import SourceInfo

KEYS = ["a", "b", "c", "key", "n"]
TOPS = ["providers", "models", "routing", "x", "anch"]
EXT_PATHS = ["providers.p", "providers.q", "models.base", "models.base.a", "x", "x.a", "anch"]
TEMPLATES = ["{{ 1 + 1 }}", "v-{{ tenant }}", "{{ config.providers.p.key }}", "{{ config.providers.p }}",
             "{{ config.x.a }}", "{{ config.routing }}", "{{ [config.providers.p.url, 1] }}",
             "{{ config.models.base.key }}", "{% if true %}y{% endif %}", "{{ config.providers.p.key }}!"]
ENC_TYPES = ["str", "int", "bool", "float"]

CONFIG = """version: 1
hierarchy:
  - base/*.yaml
  - envs/{env}.yaml
  - tenants/{tenant}/tenant.yaml
  - tenants/{tenant}/secrets.enc.yaml
  - tenants/{tenant}/{env}/services/{service}.yaml
targets: "{tenant}/{env}/{service}"
prompts: prompts/
"""
BASE = ('"providers": {"p": {"url": "https://p", "n": 1}, "q": {"url": "https://q"}}, '
        '"models": {"base": {"$extends": "providers.p", "a": {"b": 1}}}, '
        '"lst": [1, {"key": "x"}, [2, {"$extends": "providers.p"}]]')
SOPS = '"sops": {"mac": "ENC[AES256_GCM,data:x,iv:x,tag:x,type:str]", "version": "3.11.0", "lastmodified": "2030-01-01T00:00:00Z"}'


def _q(s: Any) -> str:
    return json.dumps(s)


def _enc(t: str) -> str:
    return _q(f"ENC[AES256_GCM,data:QUJD,iv:QUJDRA==,tag:QUJDRA==,type:{t}]")


@st.composite
def _value(draw: st.DrawFn, depth: int, secret: bool, tags: bool, anchors: list[str], in_list: bool = False) -> str:
    """YAML flow text of a value (``anchors``: the anchors defined so far in its file; may grow)."""
    kinds = ["int", "str", "tmpl"] + (["enc"] * 3 if secret else ["prompt"])
    if anchors:
        kinds.append("alias")
    if depth > 0:
        kinds += ["map", "map", "list", "ext", "ext"]  # $extends often, inside one another too
        if tags:
            kinds += ["replace"] + ([] if in_list else ["delete"])
    k = draw(st.sampled_from(kinds))
    if k == "int":
        return str(draw(st.integers(0, 3)))
    if k == "str":
        return _q(draw(st.sampled_from(["x", "sk-live", "https://h"])))
    if k == "tmpl":
        return _q(draw(st.sampled_from(TEMPLATES)))
    if k == "enc":
        return _enc(draw(st.sampled_from(ENC_TYPES)))
    if k == "prompt":
        return "!prompt chat@^1"
    if k == "alias":
        return "*" + draw(st.sampled_from(anchors))
    if k == "delete":
        return "!delete "
    if k == "list":
        items = draw(st.lists(_value(depth - 1, secret, tags, anchors, True), max_size=3))
        return "[" + ", ".join(items) + "]"
    body = draw(_mapping(depth - 1, secret, tags, anchors, ext=k == "ext"))
    if k == "replace":
        return "!replace " + body
    if draw(st.integers(0, 5)) == 0:
        anchors.append(f"A{len(anchors)}")
        return f"&{anchors[-1]} " + body
    return body


@st.composite
def _mapping(draw: st.DrawFn, depth: int, secret: bool, tags: bool, anchors: list[str], ext: bool = False) -> str:
    items = []
    if ext:
        e = draw(st.sampled_from(EXT_PATHS) | st.lists(st.sampled_from(EXT_PATHS[:3]), min_size=1, max_size=2, unique=True))
        items.append(f'"$extends": {_q(e)}')
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=3, unique=True)):
        items.append(f"{_q(key)}: " + draw(_value(depth, secret, tags, anchors)))
    return "{" + ", ".join(items) + "}"


@st.composite
def _layer(draw: st.DrawFn, secret: bool = False) -> str:
    anchors: list[str] = []
    items = []
    tops = draw(st.lists(st.sampled_from(TOPS), max_size=4, unique=True))
    if draw(st.booleans()):
        tag = draw(st.sampled_from(["!append", "!prepend", "!replace", ""]))
        listed = draw(st.lists(_value(2, secret, False, anchors, True), max_size=2))
        items.append('"lst": ' + tag + " [" + ", ".join(listed) + "]")
    tags = not secret
    for t in tops:
        if t in ("providers", "models") and draw(st.integers(0, 4)):
            # Mostly merged into, so that the bases stay mappings.
            sub = draw(st.lists(st.sampled_from(["p", "q", "base", "n"]), max_size=2, unique=True))
            inner = ", ".join(
                f"{_q(k)}: " + draw(_mapping(2, secret, tags, anchors, ext=draw(st.booleans()) and k == "n")) for k in sub
            )
            items.append(f"{_q(t)}: {{{inner}}}")
            continue
        items.append(f"{_q(t)}: " + draw(_value(3, secret, tags, anchors)))
    if secret:
        if "providers" not in tops:  # values for the bases, as per-tenant SOPS files hold them
            extra = draw(_value(2, True, False, anchors))
            items.append(f'"providers": {{"p": {{"key": {_enc(draw(st.sampled_from(ENC_TYPES)))}}}, '
                         f'"q": {{"key": {_enc("str")}, "extra": {extra}}}}}')
        items.append(SOPS)
    return "{" + ", ".join(items) + "}\n"


@st.composite
def _repos(draw: st.DrawFn) -> dict[str, str]:
    files = {"cfgc.yaml": CONFIG, "prompts/chat/1.0.0.j2": "hi\n", "prompts/chat/1.2.0.j2": "hi {{ x }}\n",
             "base/00.yaml": "{" + BASE + "}\n", "base/10.yaml": draw(_layer())}
    for e in ("e0", "e1"):
        files[f"envs/{e}.yaml"] = draw(_layer())
    for t in ("t0", "t1"):
        files[f"tenants/{t}/tenant.yaml"] = draw(_layer())
        files[f"tenants/{t}/secrets.enc.yaml"] = draw(_layer(secret=True))
        for e in ("e0", "e1"):
            for s in ("s0", "s1"):  # two targets over each prefix: shared $extends resolutions
                files[f"tenants/{t}/{e}/services/{s}.yaml"] = draw(_layer())
    return files


class _Files:
    """A repo held in memory (a source as :class:`cfgc.repo.sources.Source` describes it): no disk."""

    def __init__(self, files: dict[str, str]) -> None:
        self._files = {k: v.encode() for k, v in files.items()}

    def files(self) -> list[str]:
        return sorted(self._files)

    def read(self, path: str) -> bytes:
        if path not in self._files:
            raise InputError(f"{path}: no such file")
        return self._files[path]

    def info(self) -> SourceInfo:
        return SourceInfo()


def _plain_repo(service: str) -> dict[str, str]:
    """A repo whose one varying file is ``service`` (every target's own file); secrets for the bases."""
    secrets = "{" + f'"providers": {{"p": {{"key": {_enc("str")}}}, "q": {{"key": {_enc("int")}}}}}, ' + SOPS + "}\n"
    files = {"cfgc.yaml": CONFIG, "prompts/chat/1.0.0.j2": "hi\n", "base/00.yaml": "{" + BASE + "}\n"}
    for t in ("t0", "t1"):
        files[f"tenants/{t}/secrets.enc.yaml"] = secrets
        for e in ("e0", "e1"):
            for s in ("s0", "s1"):
                files[f"tenants/{t}/{e}/services/{s}.yaml"] = service
    return files


# Cases random draws reach only now and then: an $extends inside a mapping that $extends
# (its references are taken once, with the outer one's), and a whole-value template
# that brings a mapping of references.
NESTED = '{"x": {"$extends": "providers.p", "a": {"$extends": "providers.q", "b": 1}}, "y": ' + _enc("str") + "}\n"
TEMPLATED = '{"x": "{{ config.providers.q }}", "y": {"$extends": "providers.p"}}\n'


def _tail_repo(service: str) -> dict[str, str]:
    """:func:`_plain_repo` whose SOPS files also hold a reference after every $extends root
    in walk order (``zz``): the references past the last rebuilt root must be kept too."""
    files = _plain_repo(service)
    tail = "{" + f'"providers": {{"p": {{"key": {_enc("str")}}}}}, "zz": {_enc("str")}, ' + SOPS + "}\n"
    for t in ("t0", "t1"):
        files[f"tenants/{t}/secrets.enc.yaml"] = tail
    return files


@example(_tail_repo('{"s": 1}\n'), 200_000)
@example(_tail_repo('{"a": {"$extends": "providers.p"}}\n'), 200_000)
@example(_plain_repo(NESTED), 200_000)
@example(_plain_repo(NESTED), 1)
@example(_plain_repo(TEMPLATED), 200_000)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_repos(), st.sampled_from([200_000, 1, 3, 10]))
def test_a_targets_references_are_those_of_a_full_walk_of_its_value(files: dict[str, str], limit: int) -> None:
    c = Compiler(_Files(files))
    c._shared.limit = limit  # a small bound registers part of each shared value only
    for spec in c.specs():
        target, _ = c.try_compile(spec)
        if target is not None:  # a bad $extends or template stops the target: no references
            assert list(target.refs) == secret_refs(target.value), spec.name
