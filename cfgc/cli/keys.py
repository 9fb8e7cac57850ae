"""``cfgc keys``: manage local signing keys."""

from __future__ import annotations

from pathlib import Path

import click

from cfgc import api
from cfgc.cli.main import group


@group("keys")
def keys() -> None:
    """Manage ed25519 signing keys for bundles and channels.

    \b
    Examples:
      cfgc keys generate ci           writes ci.key (mode 0600) and ci.pub
      cfgc keys id ci.pub             prints the key id signatures carry
      cfgc keys export-kms ARN -o kms.pub
    """


@keys.command("generate")
@click.argument("name", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace existing NAME.key / NAME.pub.")
def generate(name: Path, force: bool) -> None:
    """Generate an ed25519 key pair: NAME.key (PEM, mode 0600) and NAME.pub.

    Keep NAME.key secret (a CI secret, never in git); hand NAME.pub to
    whoever verifies bundles (`cfgc verify --key NAME.pub`).

    \b
    Examples:
      cfgc keys generate release
      cfgc keys generate keys/ci --force
    """
    pair = api.generate_keys(name, force=force)
    click.echo(f"wrote {pair.private} (private, mode 0600) and {pair.public}; key id {pair.keyid}")


@keys.command("id")
@click.argument("key", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def key_id(key: Path) -> None:
    """Print the key id of a public (or private) key file.

    \b
    Example:
      cfgc keys id release.pub
    """
    click.echo(api.key_id(key))


@keys.command("export-kms")
@click.argument("arn")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the PEM public key.")
def export_kms(arn: str, out: Path) -> None:
    """Write the public key of an AWS KMS signing key as PEM, for offline verification.

    Readers can then run `cfgc verify --key kms.pub` without AWS access; the
    key id in signatures stays the ARN, so pass the file to verify and pull.

    \b
    Example:
      cfgc keys export-kms arn:aws:kms:us-east-1:111122223333:key/... -o kms.pub
    """
    api.export_kms_key(arn, out)
    click.echo(f"wrote {out} (public key of {arn})")
