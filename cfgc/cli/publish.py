"""``cfgc publish``, ``promote`` and ``versions``: bundles in stores (``pull`` is in pull.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cfgc import api
from cfgc.cli.common import format_option, stdin_password, store_options
from cfgc.cli.main import command, group

if TYPE_CHECKING:
    from cfgc.api import ChannelMove

F = TypeVar("F", bound=Callable[..., Any])


key_options = [
    click.option("--key", "keys", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
                 help="ed25519 private key that signs the channel pointer."),
    click.option("--kms-key", "kms_keys", multiple=True, metavar="ARN", help="AWS KMS key that signs it instead."),
]


def with_keys(f: F) -> F:
    for opt in reversed(key_options):
        f = opt(f)
    return f


pointer_options = [
    click.option("--repository", metavar="NAME", envvar="CFGC_REPOSITORY",
                 help="Repository identity the pointer names (default: the channel's current one, else the "
                      "store's other channels', else a new random one). Runtimes refuse pointers of another."),
    click.option("--expires", "expires", metavar="DURATION", default="7d", show_default=True,
                 help="How long runtimes believe the pointer (60s..366d, e.g. 12h, 7d); re-sign before it "
                      "runs out with `cfgc channel refresh`."),
]


def with_pointer_terms(f: F) -> F:
    for opt in reversed(pointer_options):
        f = opt(f)
    return f


def _move_text(move: ChannelMove) -> str:
    p = move.pointer
    if move.action == "unchanged":
        return f"channel {p.channel} already at {p.version} (serial {p.serial}, expires {p.expires or 'never'})"
    prev = f", was {p.previous}" if p.previous else ""
    return (f"channel {p.channel} -> {p.version} (serial {p.serial}{prev}; repository {p.repository}, "
            f"expires {p.expires})")


@command("publish")
@click.argument("bundle", type=click.Path(file_okay=False, exists=True, path_type=Path))
@store_options("--to")
@click.option("--channel", metavar="NAME", help="Also move this channel to the published version.")
@with_keys
@with_pointer_terms
@click.option("--flux-layer", "flux", is_flag=True,
              help="Also store the bundle tree as a Flux content layer (tar.gz) a Flux OCIRepository extracts.")
@click.option("--dry-run", is_flag=True, help="Show what would be uploaded; write nothing.")
@format_option("text", "json")
def publish_cmd(bundle: Path, url: str, plain_http: bool, username: str | None, password_stdin: bool,
                channel: str | None, keys: tuple[Path, ...], kms_keys: tuple[str, ...], repository: str | None,
                expires: str, flux: bool, dry_run: bool, fmt: str) -> None:
    """Publish a bundle to a store: content-addressed, only what is missing.

    Each target and prompt is one gzip blob keyed by its digest, so a bundle
    where one target changed uploads that blob plus the bundle manifest, its
    signatures and the version manifest, and an identical bundle uploads
    nothing.  The version id is the first 12 hex
    digits of the manifest digest; versions are never overwritten.  With
    --channel, the channel's signed pointer moves to the new version (its
    serial grows by one; concurrent publishers retry, never lose a version);
    the pointer names its --repository and expires after --expires.

    \b
    Examples:
      cfgc publish build/bundle --to file:///srv/bundles
      cfgc publish build/bundle --to s3://acme-config/bundles --channel staging --key ci.key
      cfgc publish build/bundle --to oci://registry.example.com/acme/config --channel prod \\
          --kms-key arn:aws:kms:us-east-1:111122223333:key/... --format json
      cfgc publish build/bundle --to oci://127.0.0.1:5000/config --dry-run
    """
    password = stdin_password(username, password_stdin)
    report = api.publish(bundle, url, channel=channel, keys=keys, kms_keys=kms_keys, repository=repository,
                         expires=expires, flux=flux, dry_run=dry_run, plain_http=plain_http, username=username,
                         password=password)
    if fmt == "json":
        click.echo(json.dumps(report.as_json(), indent=2))
        return
    would = "would upload" if dry_run else "uploaded"
    for path, n in report.uploaded:
        click.echo(f"  {would} {path} ({n} bytes)")
    if not report.uploaded:
        click.echo(f"nothing to upload: version {report.version} is already in {report.url}")
    state = "new" if report.version_created else "already present"
    click.echo(f"{'dry run: ' if dry_run else ''}{would} {len(report.uploaded)} object(s), {report.uploaded_bytes} "
               f"bytes; skipped {len(report.skipped)} present; version {report.version} ({state}); "
               f"signatures {report.signatures}")
    if report.channel is not None:
        click.echo(_move_text(report.channel))


@command("promote")
@store_options("--to")
@click.option("--channel", required=True, metavar="NAME", help="Channel to move.")
@click.option("--version", "version", required=True, metavar="V", help="Version id (see `cfgc versions`).")
@with_keys
@with_pointer_terms
@click.option("--dry-run", is_flag=True, help="Show the move; write nothing.")
@format_option("text", "json")
def promote_cmd(url: str, plain_http: bool, username: str | None, password_stdin: bool, channel: str,
                version: str, keys: tuple[Path, ...], kms_keys: tuple[str, ...], repository: str | None,
                expires: str, dry_run: bool, fmt: str) -> None:
    """Move a channel to a published version; rollback is a promote to an older one.

    The new pointer is signed and its serial is one more than the current
    one's, even when going back, so readers can refuse replayed pointers.

    \b
    Examples:
      cfgc promote --to s3://acme-config/bundles --channel prod --version 3f2a9c81d0e4 --key ci.key
      cfgc promote --to oci://127.0.0.1:5000/config --channel prod --version 1b7e004c9a12 --key ci.key
    """
    password = stdin_password(username, password_stdin)
    move = api.promote(url, channel, version, keys=keys, kms_keys=kms_keys, repository=repository,
                       expires=expires, dry_run=dry_run, plain_http=plain_http, username=username,
                       password=password)
    _echo_move(move, dry_run, fmt)


def _echo_move(move: ChannelMove, dry_run: bool, fmt: str) -> None:
    if fmt == "json":
        p = move.pointer
        click.echo(json.dumps({"action": move.action, "channel": p.channel, "version": p.version,
                               "serial": p.serial, "previous": p.previous, "repository": p.repository,
                               "issued": p.issued, "expires": p.expires, "dry_run": dry_run}, indent=2))
        return
    click.echo(("dry run: " if dry_run else "") + _move_text(move))


@group("channel")
def channel_group() -> None:
    """Maintain channel pointers (see also publish --channel and promote)."""


@channel_group.command("refresh")
@store_options("--to")
@click.option("--channel", "channels", required=True, multiple=True, metavar="NAME",
              help="Channel to re-sign (repeatable).")
@with_keys
@with_pointer_terms
@click.option("--dry-run", is_flag=True, help="Show the new pointer; write nothing.")
@format_option("text", "json")
def channel_refresh_cmd(url: str, plain_http: bool, username: str | None, password_stdin: bool,
                        channels: tuple[str, ...], keys: tuple[Path, ...], kms_keys: tuple[str, ...],
                        repository: str | None, expires: str, dry_run: bool, fmt: str) -> None:
    """Re-sign a channel's pointer: same version, serial + 1, new expiry.

    Run it on a schedule (more often than --expires) so runtimes keep
    trusting the channel: a pointer that stops being refreshed expires and
    runtimes report stale, which is how a frozen store is noticed.  It also
    upgrades a legacy pointer (no repository or expiry) to the current format.

    \b
    Examples:
      cfgc channel refresh --to s3://acme-config/bundles --channel prod --channel staging --key ci.key
      cfgc channel refresh --to oci://registry.example.com/acme/config --channel prod --expires 3d \\
          --kms-key arn:aws:kms:us-east-1:111122223333:key/...
    """
    password = stdin_password(username, password_stdin)
    store = api.open_store(url, plain_http=plain_http, username=username, password=password, must_exist=True)
    for name in channels:
        move = api.refresh_channel(store, name, keys=keys, kms_keys=kms_keys, repository=repository,
                                   expires=expires, dry_run=dry_run)
        _echo_move(move, dry_run, fmt)


@command("versions")
@store_options("--from")
@format_option("text", "json")
def versions_cmd(url: str, plain_http: bool, username: str | None, password_stdin: bool, fmt: str) -> None:
    """List the versions in a store, newest first, with the channels at each.

    \b
    Examples:
      cfgc versions --from s3://acme-config/bundles
      cfgc versions --from oci://127.0.0.1:5000/config --format json
    """
    rows = api.list_versions(url, plain_http=plain_http, username=username,
                             password=stdin_password(username, password_stdin))
    if fmt == "json":
        click.echo(json.dumps([{"version": r.version, "manifest_digest": r.manifest_digest, "commit": r.commit,
                                "created": r.created, "channels": list(r.channels), "signed": r.signed}
                               for r in rows], indent=2))
        return
    if not rows:
        click.echo(f"no versions in {url}")
    for r in rows:
        chans = f"  <- {', '.join(r.channels)}" if r.channels else ""
        click.echo(f"{r.version}  {r.created or '-':20}  {(r.commit or '-')[:12]:12}"
                   f"  {'signed' if r.signed else 'unsigned'}{chans}")

