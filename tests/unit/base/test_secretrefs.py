import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.canonical import canonical_json
from cfgc.base.loading import load_yaml
from cfgc.base.secretrefs import (
    SecretRef,
    is_sops_document,
    secret_document,
    secret_refs,
    with_placeholders,
)

ENC = "ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC==,type:{t}]"
DOC = f"""\
db:
    password: {ENC.format(t='str')}
    port: {ENC.format(t='int')}
    host_unencrypted: db.internal
list:
    - {ENC.format(t='bool')}
sops:
    mac: {ENC.format(t='str')}
    version: 3.9.0
"""


def test_sops_document_becomes_references() -> None:
    doc = load_yaml(DOC.encode(), "s.enc.yaml")
    assert is_sops_document(doc.data)
    sec = secret_document(doc)
    assert "sops" not in sec.data
    assert sec.data["db"]["password"] == SecretRef("s.enc.yaml", ("db", "password"), "str")
    assert sec.data["list"][0] == SecretRef("s.enc.yaml", ("list", 0), "bool")
    assert sec.data["db"]["host_unencrypted"] == "db.internal"
    assert "secret" in sec.features
    assert [p for p, _ in secret_refs(sec.data)] == [("db", "password"), ("db", "port"), ("list", 0)]


def test_placeholders_have_declared_types() -> None:
    sec = secret_document(load_yaml(DOC.encode(), "s.enc.yaml"))
    v = with_placeholders(sec.data)
    assert isinstance(v["db"]["password"], str) and v["db"]["port"] == 0 and v["list"] == [False]


def test_plain_files_are_not_sops_documents() -> None:
    assert not is_sops_document({"sops": "a word"})
    assert not is_sops_document({"sops": {"version": 1}})
    assert not is_sops_document(["x"])


def test_reference_serialises_and_refuses_str() -> None:
    ref = SecretRef("f.yaml", ("a", "b"), "str")
    assert canonical_json({"k": ref}) == b'{"k":{"$secret":{"file":"f.yaml","path":["a","b"],"type":"str"}}}'
    with pytest.raises(TypeError, match="cannot be interpolated"):
        str(ref)


def test_schema_errors_never_quote_a_plaintext_credential(make_repo) -> None:
    from cfgc.bundle import pipeline
    from cfgc.compile.compiler import Compiler
    from cfgc.repo.sources import DirSource

    canary = "sk-proj-CANARYabcdefghijklmnopqrstuvwxyz"
    root = make_repo({
        "base/a.yaml": f"api_key: {canary}\n",
        "envs/dev.yaml": "x: 1\n", "tenants/t/dev/chat.yaml": "y: 1\n",
        "schemas/s.json": '{"properties": {"api_key": {"type": "string", "pattern": "^ENC"}}}',
    }, config=(
        "version: 1\n"
        "hierarchy:\n  - base/*.yaml\n  - envs/{env}.yaml\n  - tenants/{tenant}/{env}/{service}.yaml\n"
        "targets: '{tenant}/{env}/{service}'\n"
        "schemas: [{schema: schemas/s.json}]\n"
    ))
    result = pipeline.run(Compiler(DirSource(root)), jobs=1)
    text = "\n".join(str(d) for d in result.diagnostics)
    assert "api_key: '<redacted hmac:" in text  # the schema finding is still reported
    assert "OpenAI" in text  # and so is the credential itself
    assert "CANARY" not in text


def _refs_reference(value, path=()):  # the plain recursive definition
    if type(value) is SecretRef:
        return [(path, value)]
    if type(value) is dict:
        return [r for k, v in value.items() for r in _refs_reference(v, (*path, k))]
    if type(value) is list:
        return [r for i, v in enumerate(value) for r in _refs_reference(v, (*path, i))]
    return []


_leaf = st.one_of(
    st.integers(), st.text(max_size=3), st.none(),
    st.builds(SecretRef, st.sampled_from(["a.enc.yaml", "b.enc.yaml"]), st.just(("k",)),
              st.sampled_from(["str", "int", "bool"])),
)
_values = st.recursive(
    _leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3),
    max_leaves=20,
)


def _placeholders_reference(value):  # a full copy
    if type(value) is SecretRef:
        return value.placeholder()
    if type(value) is dict:
        return {k: _placeholders_reference(v) for k, v in value.items()}
    if type(value) is list:
        return [_placeholders_reference(v) for v in value]
    return value


@given(_values)
@settings(max_examples=300, deadline=None)
def test_refs_and_placeholders_match_the_plain_walks(value) -> None:
    refs = secret_refs(value)
    assert refs == _refs_reference(value)
    before = canonical_json(value) if refs else None
    assert with_placeholders(value) == _placeholders_reference(value)
    if refs:  # the input is never changed in place
        assert canonical_json(value) == before
