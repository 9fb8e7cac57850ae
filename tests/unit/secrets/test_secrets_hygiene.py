"""Secrets hygiene: plaintext credentials, recipient drift, stale files; values never echoed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyrage
import pytest
import yaml

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import Location
from cfgc.compile.hygiene import format_path, hygiene_findings
from cfgc.repo.config import RepoConfig, load_config
from cfgc.secrets import fileio, ops
from cfgc.secrets.keysources import Keyring
from cfgc.secrets.keysources.age import AgeSource
from cfgc.secrets.scan import classify, shannon_entropy

CASES = yaml.safe_load(
    (Path(__file__).parents[2] / "data" / "hygiene" / "values.yaml").read_text(encoding="utf-8")
)
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
OPENAI = "sk-proj-C4nary0penAIk3yDoNotEcho9x"
ANTHROPIC = "sk-ant-api03-C4naryAnthr0picKeyDoNotEcho7"
AWS = "AKIAC4NARY0DONOTECH0"
ENTROPY = "Qz7Xk2Lp9Wm4Rt8Vn3Bc"
SECRETS = (OPENAI, ANTHROPIC, AWS, ENTROPY)

CFGC_YAML = """\
version: 1
hierarchy:
  - base/*.yaml
  - tenants/{tenant}/tenant.yaml
  - tenants/{tenant}/secrets.enc.yaml
targets: "{tenant}"
schemas:
  - schema: schemas/service.json
  - schema: contracts/model.json
secrets:
  max_age_days: 90
"""


def _ids(case: dict[str, Any]) -> str:
    return f"{case['key']}-{case['expect']}"


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_classify_cases(case: dict[str, Any]) -> None:
    hit = classify(case["key"], case["value"])
    if case["expect"] is None:
        assert hit is None
        return
    assert hit is not None
    assert hit.kind == case["expect"]
    assert hit.severity == ("warning" if case["expect"] == "high-entropy value" else "error")
    assert case["value"] not in repr(hit)


def test_entropy() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("0123456789abcdef") == pytest.approx(4.0)


def test_format_path() -> None:
    assert format_path(("providers", "openai", "api_key")) == "providers.openai.api_key"
    assert format_path(("headers", 0, "value")) == "headers[0].value"


def _repo(tmp_path: Path, files: dict[str, str]) -> tuple[Any, RepoConfig]:
    from cfgc.repo.sources import DirSource

    (tmp_path / "cfgc.yaml").write_text(CFGC_YAML)
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    src = DirSource(tmp_path)
    return src, load_config(src)


def _no_values(diags: list[Diagnostic], values: tuple[str, ...] = SECRETS) -> None:
    for d in diags:
        text = f"{d} {d!r}"
        for v in values:
            assert v not in text
            assert v[4:-4] not in text  # not even a fragment


def test_plaintext_in_yaml_with_exact_locations(tmp_path: Path) -> None:
    src, cfg = _repo(
        tmp_path,
        {
            "base/00-providers.yaml": (
                "providers:\n"
                "  openai:\n"
                f"    api_key: {OPENAI}\n"
                "  anthropic:\n"
                f"      api_key: '{ANTHROPIC}'\n"
                "aws:\n"
                f"  - {{id: {AWS}, region: eu-west-1}}\n"
                "webhooks:\n"
                f"  signing_secret: {ENTROPY}\n"
                "  token_env: WEBHOOK_TOKEN\n"
                "  api_key: ${WEBHOOK_KEY}\n"
            ),
        },
    )
    diags = hygiene_findings(src, cfg, NOW)
    _no_values(diags)
    got = [(str(d.location), d.severity, d.rule) for d in diags]
    assert got == [
        ("base/00-providers.yaml:3:5", "error", "secrets"),
        ("base/00-providers.yaml:5:7", "error", "secrets"),
        ("base/00-providers.yaml:7:6", "error", "secrets"),
        ("base/00-providers.yaml:9:3", "warning", "secrets"),
    ]
    assert diags[0].message == (
        "plaintext credential (OpenAI API key) under 'providers.openai.api_key'; "
        "encrypt this file with 'cfgc secrets encrypt'"
    )
    assert "(Anthropic API key) under 'providers.anthropic.api_key'" in diags[1].message
    assert "(AWS access key id) under 'aws[0].id'" in diags[2].message
    assert diags[3].message.startswith(
        "possible plaintext credential (high-entropy value) under 'webhooks.signing_secret'"
    )


def test_json_with_tabs_and_skipped_folders(tmp_path: Path) -> None:
    leak = f'{{\n\t"providers": {{\n\t\t"openai": {{"api_key": "{OPENAI}"}}\n\t}}\n}}\n'
    src, cfg = _repo(
        tmp_path,
        {
            "tenants/acme/tenant.json": leak,
            "schemas/service.json": leak,  # schema folders are not config
            "contracts/model.json": leak,  # nor is a folder cfgc.yaml names for schemas
            "base/notes.txt": leak,  # not a file the hierarchy loads
            "base/broken.yaml": f"a: [{OPENAI}\n",  # syntax errors are the compiler's
            ".sops.yaml": "creation_rules:\n  - age: age1notarealrecipient\n",
        },
    )
    diags = hygiene_findings(src, cfg, NOW)
    _no_values(diags)
    assert [str(d.location) for d in diags] == ["tenants/acme/tenant.json:3:14"]


Keys = tuple[pyrage.x25519.Identity, pyrage.x25519.Identity, Keyring]


@pytest.fixture(scope="module")
def keys() -> Keys:
    """Two identities and a keyring holding both."""
    a, b = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    return a, b, Keyring({"age": AgeSource(identities=[a, b])})


def _sops_yaml(*recipients: object) -> str:
    rs = ",".join(str(r) for r in recipients)
    return f"creation_rules:\n  - path_regex: tenants/acme/.*\n    age: {rs}\n"


def _encrypted_repo(
    tmp_path: Path,
    kr: Keyring,
    rule_recipients: tuple[object, ...],
    file_recipients: tuple[object, ...],
) -> tuple[Any, RepoConfig, str]:
    """A repo whose acme secrets file was encrypted for ``file_recipients``."""
    src, cfg = _repo(tmp_path, {".sops.yaml": _sops_yaml(*file_recipients)})
    rel = "tenants/acme/secrets.enc.yaml"
    plain = tmp_path / rel
    plain.parent.mkdir(parents=True)
    plain.write_text(f"providers:\n  openai:\n    api_key: {OPENAI}\nkey_id_unencrypted: acme-1\n")
    ops.encrypt_file(plain, kr, in_place=True)
    (tmp_path / ".sops.yaml").write_text(_sops_yaml(*rule_recipients))
    from cfgc.repo.sources import DirSource

    return DirSource(tmp_path), cfg, rel


def _sops_line(tmp_path: Path, rel: str) -> int:
    lines = (tmp_path / rel).read_text().splitlines()
    return lines.index("sops:") + 1


def test_encrypted_file_in_sync_has_no_findings(tmp_path: Path, keys: Keys) -> None:
    a, _, kr = keys
    src, cfg, _ = _encrypted_repo(tmp_path, kr, (a.to_public(),), (a.to_public(),))
    assert hygiene_findings(src, cfg, NOW) == []


def test_recipient_added_and_removed(tmp_path: Path, keys: Keys) -> None:
    a, b, kr = keys
    ra, rb = str(a.to_public()), str(b.to_public())
    src, cfg, rel = _encrypted_repo(tmp_path, kr, (rb,), (ra,))
    [d] = hygiene_findings(src, cfg, NOW)
    assert d.severity == "warning" and d.rule == "secrets"
    assert d.location == Location(rel, _sops_line(tmp_path, rel), 1)
    assert f"not yet encrypted for {rb}" in d.message
    assert f"still encrypted for {ra}" in d.message
    assert f"cfgc secrets updatekeys {rel}" in d.message
    assert f"cfgc secrets rotate {rel}" in d.message  # a removed recipient saw the data key
    _no_values([d])


def test_recipient_added_only(tmp_path: Path, keys: Keys) -> None:
    a, b, kr = keys
    src, cfg, rel = _encrypted_repo(tmp_path, kr, (a.to_public(), b.to_public()), (a.to_public(),))
    [d] = hygiene_findings(src, cfg, NOW)
    assert f"not yet encrypted for {b.to_public()}" in d.message
    assert "still encrypted" not in d.message and "rotate" not in d.message


def test_no_matching_rule_and_bad_sops_yaml(tmp_path: Path, keys: Keys) -> None:
    a, _, kr = keys
    src, cfg, rel = _encrypted_repo(tmp_path, kr, (a.to_public(),), (a.to_public(),))
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: tenants/globex/.*\n    age: {a.to_public()}\n"
    )
    [d] = hygiene_findings(src, cfg, NOW)
    assert "no creation rule" in d.message and d.location is not None
    assert d.location.path == rel
    (tmp_path / ".sops.yaml").write_text("creation_rules: [\n")
    [d] = hygiene_findings(src, cfg, NOW)
    assert d.severity == "error" and d.location == Location(".sops.yaml", 1, 1)


def test_stale_file(tmp_path: Path, keys: Keys) -> None:
    a, _, kr = keys
    src, cfg, rel = _encrypted_repo(tmp_path, kr, (a.to_public(),), (a.to_public(),))
    modified = fileio.read(tmp_path / rel)["sops"]["lastmodified"]
    when = dt.datetime.fromisoformat(modified.replace("Z", "+00:00"))
    assert hygiene_findings(src, cfg, when + dt.timedelta(days=90)) == []
    [d] = hygiene_findings(src, cfg, when + dt.timedelta(days=91, hours=1))
    assert d.severity == "warning"
    assert "91 days ago" in d.message and "max_age_days (90)" in d.message
    assert f"cfgc secrets rotate {rel}" in d.message
    line = (tmp_path / rel).read_text().splitlines().index(f'    lastmodified: "{modified}"') + 1
    assert d.location == Location(rel, line, 5)
    no_limit = RepoConfig(**{**cfg.__dict__, "max_secret_age_days": None})
    assert hygiene_findings(src, no_limit, when + dt.timedelta(days=900)) == []


def test_unencrypted_values_of_sops_files_are_scanned(tmp_path: Path, keys: Keys) -> None:
    a, _, kr = keys
    src, cfg, rel = _encrypted_repo(tmp_path, kr, (a.to_public(),), (a.to_public(),))
    path = tmp_path / rel
    text = path.read_text()
    assert OPENAI not in text
    # a credential under an _unencrypted key stays in clear: that is a leak
    ops.set_value(path, ["backup_key_unencrypted"], ANTHROPIC, kr)
    [d] = hygiene_findings(src, cfg, NOW)
    assert d.severity == "error" and "'backup_key_unencrypted'" in d.message
    assert "leaves this key unencrypted" in d.message
    _no_values([d])
