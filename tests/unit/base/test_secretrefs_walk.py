"""cfgc.base.secretrefs: the walks over a compiled value for its secret references."""

from __future__ import annotations

from cfgc.base.secretrefs import SecretRef, secret_refs, with_placeholders


def _tree() -> tuple[dict, SecretRef, SecretRef]:
    a = SecretRef("s.enc.yaml", ("k",), "str")
    b = SecretRef("s.enc.yaml", ("l", 0), "int")
    return {"plain": {"x": [1, {"y": "z"}]}, "k": a, "l": [0, {"m": b}], "top": b}, a, b


def test_secret_refs_lists_every_reference_depth_first_with_its_path() -> None:
    tree, a, b = _tree()
    assert secret_refs(tree) == [(("k",), a), (("l", 1, "m"), b), (("top",), b)]
    assert secret_refs(a, ("p",)) == [(("p",), a)]
    assert secret_refs("scalar") == [] and secret_refs([]) == []


def test_placeholders_replace_secrets_and_share_what_holds_none() -> None:
    tree, a, b = _tree()
    out = with_placeholders(tree)
    assert out["k"] == a.placeholder() and out["l"][1]["m"] == b.placeholder() and out["top"] == b.placeholder()
    assert out["plain"] is tree["plain"]  # no secret below: not copied
    assert tree["k"] is a and tree["l"][1]["m"] is b  # the compiled value is left as it was
    plain = {"x": [1, 2]}
    assert with_placeholders(plain) is plain
