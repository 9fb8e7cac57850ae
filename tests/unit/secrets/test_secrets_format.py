"""The SOPS file format as sops writes it: comments, nanoseconds, bytes, stores, refusals."""

from __future__ import annotations

import copy
import datetime as dt
import os
from pathlib import Path

import pytest

from cfgc.base.errors import InputError
from cfgc.secrets import cipher, comments, fileio, ops, yamlemit, yamlio
from cfgc.secrets.cipher import Comment
from cfgc.secrets.document import decrypt_tree, encrypt_tree
from cfgc.secrets.keysources import Keyring

LISTS = """\
# top
hosts:
    # primary
    - a.example.com
    # between
    - b.example.com
nested:
    - - x
      # inner
      - "y"
    - k: v
      # c
      j: w
"""


def _texts(node: object) -> list[str]:
    return comments.texts(node)


def test_comments_become_entries_where_sops_puts_them() -> None:
    tree = yamlio.load("hosts:\n  - a # primary\n  # between\n  - b\nx: 1 # one\n")
    hosts = tree["hosts"]
    assert [type(v).__name__ for v in hosts] == ["Comment", "str", "Comment", "str"]
    assert [c.value for c in hosts if isinstance(c, Comment)] == [" primary", " between"]
    keys = list(tree)
    assert isinstance(keys[1], Comment) and keys[1].value == " one" and keys[2] == "x"
    assert comments.strip(tree) == {"hosts": ["a", "b"], "x": 1}


def test_comment_layout_round_trips_as_sops_writes_it() -> None:
    # this is sops 3.11's own decrypted output for a file with these comments
    assert yamlemit.dump(yamlio.load(LISTS)) == LISTS


def test_comments_are_encrypted_but_not_in_the_mac() -> None:
    key = os.urandom(32)
    with_c = yamlio.load(LISTS)
    enc, mac = encrypt_tree(with_c, key)
    _, mac_plain = encrypt_tree(comments.strip(with_c), key)
    assert mac == mac_plain
    assert "between" not in yamlemit.dump(enc) and "#ENC[" in yamlemit.dump(enc)
    back, mac_back = decrypt_tree(enc, key)
    assert mac_back == mac and _texts(back) == _texts(with_c)


def test_comments_kept_around_a_changed_tree() -> None:
    old = yamlio.load(LISTS)
    new = comments.strip(old)
    new["hosts"][1] = "c.example.com"
    new["added"] = 1
    out = comments.graft(new, old)
    assert _texts(out) == _texts(old)
    assert comments.strip(out) == new
    assert "    # between\n    - c.example.com\n" in yamlemit.dump(out)


def test_nanosecond_timestamps_are_kept_exactly() -> None:
    t = yamlio.load("t: 2024-01-02T03:04:05.123456789Z\n")["t"]
    assert cipher.to_bytes(t) == b"2024-01-02T03:04:05.123456789Z"
    assert cipher.to_bytes(copy.deepcopy(t)) == b"2024-01-02T03:04:05.123456789Z"
    assert cipher.from_bytes(b"2024-01-02T03:04:05.123456789Z", "time") == t
    assert t != dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)
    key = os.urandom(32)
    enc = cipher.encrypt(t, key, "t:")
    assert (
        cipher.format_go_time(cipher.decrypt(enc, key, "t:")[0]) == "2024-01-02T03:04:05.123456789Z"
    )  # type: ignore[arg-type]


def test_binary_bytes_are_kept_exactly() -> None:
    tree = yamlio.load("b: !!binary /wA=\ns: !!binary aGk=\n")
    assert tree == {"b": b"\xff\x00", "s": "hi"}
    key = os.urandom(32)
    enc, _ = encrypt_tree(tree, key)
    assert enc["b"].endswith("type:str]")  # as sops writes it
    back, _ = decrypt_tree(enc, key)
    assert back["b"] == b"\xff\x00"
    assert yamlemit.dump(back) == "b: !!binary /wA=\ns: hi\n"
    with pytest.raises(InputError, match="binary"):
        fileio.dumps(back, "json")


# What sops 3.11 (Go yaml.v3) prints for these strings, taken from the real
# binary; tests/integration/test_sops_format.py checks the same values against it.
@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("\n", "k: |4+\n\n"),
        ("\n\n", "k: |4+\n\n\n"),
        ("\na", "k: |4-\n\n    a\n"),
        (" a\n", "k: |4\n     a\n"),
        ("\n a\n", "k: |4\n\n     a\n"),
        ("a\n\n", "k: |+\n    a\n\n"),
        ("a\n", "k: |\n    a\n"),
        (" \n", 'k: " \\n"\n'),
    ],
)
def test_multi_line_strings_are_written_as_sops_writes_them(value: str, text: str) -> None:
    assert yamlemit.dump({"k": value}) == text
    assert yamlio.load(text)["k"] == value


# yaml.v3 writes the indicator 4 whatever the parent's indentation; inside a
# compact collection ("- - " or "- a: ") its lines then sit 2 columns short of
# it, and neither sops nor libyaml can read that back.  cfgc puts the lines
# where yaml.v3 does (2 past a sequence item's dash) and writes the distance.
@pytest.mark.parametrize(
    ("tree", "text"),
    [
        ({"k": [["\n0"]]}, "k:\n    - - |2-\n\n        0\n"),
        ({"k": [{"a": " x\ny"}]}, "k:\n    - a: |2-\n         x\n        y\n"),
        ({"k": [[["\n"]]]}, "k:\n    - - - |2+\n\n"),
        ({"k": ["\n0"]}, "k:\n    - |2-\n\n      0\n"),
        ({"k": ["a\n"]}, "k:\n    - |\n      a\n"),  # a sequence item's lines: 2 past its dash, as yaml.v3
    ],
)
def test_indentation_indicator_counts_from_the_parent(tree: dict[str, object], text: str) -> None:
    assert yamlemit.dump(tree) == text
    assert yamlio.load(text) == tree


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("a: 1\nb: 9223372036854775808\n", 2, "64-bit"),
        ("a: 1\nb: -9223372036854775809\n", 2, "64-bit"),
        ("m: &b\n  a: 1\nn:\n  <<: *b\n", 4, "merge"),
        ("n:\n  !!merge <<: {a: 1}\n", 2, "merge"),
    ],
)
def test_values_sops_cannot_read_are_refused_at_their_line(text: str, line: int, what: str) -> None:
    with pytest.raises(InputError, match=rf"line {line}: .*{what}"):
        yamlio.load(text)


def test_int64_limits_still_load() -> None:
    assert yamlio.load("a: 9223372036854775807\nb: -9223372036854775808\n") == {
        "a": 2**63 - 1,
        "b": -(2**63),
    }


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.yaml", "yaml"),
        ("a.YML", "yaml"),
        ("a.json", "json"),
        ("a.txt", "binary"),
        ("a.bin", "binary"),
        ("a", "binary"),
    ],
)
def test_store_follows_the_extension_as_in_sops(name: str, fmt: str) -> None:
    assert fileio.format_for(name) == fmt


@pytest.mark.parametrize("name", ["a.env", "x/a.ini"])
def test_dotenv_and_ini_are_refused(name: str) -> None:
    with pytest.raises(InputError, match="not supported by cfgc"):
        fileio.format_for(name)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_empty_files_are_not_encrypted(repo: Path, keyring: Keyring, text: str) -> None:
    p = repo / "secrets" / "empty.yaml"
    p.write_text(text)
    with pytest.raises(InputError, match="empty"):
        ops.encrypt_file(p, keyring, in_place=True)
    assert p.read_text() == text


def test_binary_file_stays_in_the_binary_store(repo: Path, keyring: Keyring) -> None:
    (repo / ".sops.yaml").write_text((repo / ".sops.yaml").read_text().replace(r"\.yaml$", ""))
    p = repo / "secrets" / "blob.bin"
    p.write_bytes(b"raw\xff\x00bytes\n")
    ops.encrypt_file(p, keyring, in_place=True)
    assert p.read_text().startswith('{\n\t"data": "ENC[')
    doc = ops.decrypt_file(p, keyring)
    assert fileio.dump_bytes(doc, "binary") == b"raw\xff\x00bytes\n"
    ops.rotate(p, keyring)
    assert p.read_text().startswith('{\n\t"data": "ENC[')
    assert fileio.dump_bytes(ops.decrypt_file(p, keyring), "binary") == b"raw\xff\x00bytes\n"


def test_set_keeps_comments_and_other_ciphertexts(repo: Path, keyring: Keyring) -> None:
    p = repo / "secrets" / "c.yaml"
    p.write_text(LISTS)
    ops.encrypt_file(p, keyring, in_place=True)
    before = p.read_text().splitlines()
    assert ops.set_value(p, ["hosts", 1], "c.example.com", keyring)
    after = p.read_text().splitlines()
    changed = [line for line in before if line not in after]
    values = [line for line in changed if not line.startswith(("    mac:", "    lastmodified:"))]
    assert len(values) == 1 and values[0].startswith("    - ENC[")  # only the value set
    full = ops.decrypt_file(p, keyring, with_comments=True)
    assert _texts(full) == _texts(yamlio.load(LISTS))
    assert ops.decrypt_file(p, keyring)["hosts"] == ["a.example.com", "c.example.com"]


def test_an_alias_bomb_in_a_secrets_file_is_refused_quickly() -> None:
    """Secrets files come from pull requests too: alias expansion is bounded as in layers."""
    import time

    from cfgc.base.errors import InputError as _InputError
    from cfgc.secrets import yamlio as _yamlio

    text = 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i in range(1, 9):
        text += f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]\n"
    start = time.monotonic()
    with pytest.raises(_InputError, match="aliases expand to more than"):
        _yamlio.load(text)
    assert time.monotonic() - start < 30  # generous: it took 0.2 s; unbounded it never ends
    assert _yamlio.load("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
