"""``cfgc sign`` and ``cfgc verify``: DSSE signatures over bundle manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cfgc import api
from cfgc.cli.common import format_option
from cfgc.cli.failure import report_printed
from cfgc.cli.main import command

if TYPE_CHECKING:
    from cfgc.api import VerifyReport

bundle_argument = click.argument("bundle", type=click.Path(file_okay=False, exists=True, path_type=Path))


@command("sign")
@bundle_argument
@click.option("--key", "keys", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="ed25519 private key file (repeatable).")
@click.option("--kms-key", "kms_keys", multiple=True, metavar="ARN",
              help="AWS KMS ECC_NIST_P256 key (repeatable); AWS credentials from the environment.")
def sign(bundle: Path, keys: tuple[Path, ...], kms_keys: tuple[str, ...]) -> None:
    """Sign a bundle's manifest and write its signed provenance.

    Writes BUNDLE/manifest.sig.json (a DSSE envelope over the manifest's
    canonical bytes) and BUNDLE/provenance.intoto.json (an in-toto SLSA
    provenance statement whose subjects are the targets, in its own DSSE
    envelope).  Signing again with another key adds its signature.

    \b
    Examples:
      cfgc sign build/bundle --key release.key
      cfgc sign build/bundle --kms-key arn:aws:kms:us-east-1:111122223333:key/...
    """
    done = api.sign_bundle(bundle, keys=keys, kms_keys=kms_keys)
    click.echo(f"signed {bundle} (manifest {done.manifest_digest[:19]}…): wrote {done.signature} and {done.provenance}")


@command("verify")
@bundle_argument
@click.option("--key", "keys", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Public key file to accept (repeatable; one valid signature suffices).")
@click.option("--kms-key", "kms_keys", multiple=True, metavar="ARN", help="Accept this AWS KMS key (repeatable).")
@format_option("text", "json")
def verify(bundle: Path, keys: tuple[Path, ...], kms_keys: tuple[str, ...], fmt: str) -> None:
    """Verify a bundle: signature, and every listed file's digest and size.

    Exits 0 when the manifest carries a valid signature by one of the keys
    and every file matches it; exits 5 naming each failure otherwise (a
    changed, missing or unlisted file, a bad signature, provenance that does
    not match the targets).

    \b
    Examples:
      cfgc verify build/bundle --key release.pub
      cfgc verify build/bundle --key old.pub --key new.pub --format json
    """
    try:
        report = api.verify_bundle(bundle, keys=keys, kms_keys=kms_keys)
    except api.VerificationFailed as e:
        if fmt == "json":
            click.echo(json.dumps(_report_json(e.report), indent=2))
            report_printed()
        raise
    if fmt == "json":
        click.echo(json.dumps(_report_json(report), indent=2))
        return
    prov = "signed provenance ok" if report.provenance else "no provenance"
    click.echo(f"verified {bundle}: {report.checked} files ok, signed by {', '.join(report.keyids)}; {prov}")


def _report_json(report: VerifyReport) -> dict[str, object]:
    """``verify --format json``: the same shape on success and on failure (``problems`` then non-empty)."""
    return {"ok": not report.problems, "keyids": list(report.keyids), "files": report.checked,
            "provenance": report.provenance, "problems": list(report.problems)}
