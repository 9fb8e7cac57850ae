"""``cfgc pull``: fetch a version into a bundle directory, or print one target as JSON.

Two behaviours, one verification path:

* ``cfgc pull prod --from URL --out DIR [--key PUB]`` writes the whole bundle
  of a version or channel to DIR (as before);
* ``cfgc pull --from URL --channel prod --target acme/prod/chat --key PUB``
  prints the target as JSON through the runtime (verified, cached with
  ``--cache-dir``, secrets decrypted with this machine's identity).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:  # cfgc.api imports the compiler; `cfgc agent` imports this module for its options
    from cfgc.api import PullResult
from cfgc.base.errors import UsageError
from cfgc.cli.common import stdin_password, store_options
from cfgc.cli.main import command

F = TypeVar("F", bound=Callable[..., Any])

runtime_pointer_options = [
    click.option("--repository", metavar="NAME", envvar="CFGC_REPOSITORY",
                 help="Repository the channel pointer must name (default: the one first seen from this source)."),
    click.option("--state-file", type=click.Path(dir_okay=False, path_type=Path), envvar="CFGC_STATE_FILE",
                 help="Highest serials seen, per repository and channel "
                      "(default: $XDG_STATE_HOME/cfgc/serials.json or ~/.local/state/cfgc/serials.json)."),
    click.option("--min-serial", type=click.IntRange(min=0), default=0, show_default=True,
                 help="Refuse channel pointers with a lower serial (for a runtime with no state yet)."),
]


def with_runtime_pointer_options(f: F) -> F:
    """Add the options that guard a runtime against replayed or expired channel pointers."""
    for opt in reversed(runtime_pointer_options):
        f = opt(f)
    return f


@command("pull")
@click.argument("ref", metavar="[VERSION|CHANNEL]", required=False)
@store_options("--from")
@click.option("--channel", metavar="NAME", help="Channel to follow (instead of REF).")
@click.option("--target", metavar="TARGET", help="Print this target as JSON (needs --key).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Write the whole bundle to this directory.")
@click.option("--key", "keys", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Public key to verify the channel pointer and bundle with (repeatable).")
@click.option("--kms-key", "kms_keys", multiple=True, metavar="ARN", help="Accept this AWS KMS key.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="With --target: keep the last verified version here; used when the source is unreachable.")
@click.option("--age-key-file", type=click.Path(dir_okay=False, exists=True), help="age identity to decrypt secrets "
              "with (default: SOPS_AGE_KEY / SOPS_AGE_KEY_FILE / ~/.config/sops/age/keys.txt; KMS from AWS env).")
@click.option("--secrets", "secrets_mode", type=click.Choice(["decrypt", "refs"]), default="decrypt",
              show_default=True, help="With --target: decrypt secret references, or print them as references.")
@with_runtime_pointer_options
@click.option("--allow-expired", is_flag=True, help="Accept a channel pointer past its expiry (still verified).")
def pull_cmd(ref: str | None, url: str, plain_http: bool, username: str | None, password_stdin: bool,
             channel: str | None, target: str | None, out: Path | None, keys: tuple[Path, ...],
             kms_keys: tuple[str, ...], cache_dir: Path | None, age_key_file: str | None, secrets_mode: str,
             repository: str | None, state_file: Path | None, min_serial: int, allow_expired: bool) -> None:
    """Fetch a version (or the version a channel points at), verified.

    With --out, write the bundle directory: every blob is checked against its
    digest and every file against the bundle manifest; with --key the channel
    pointer and the bundle's signature are verified too.

    With --target, print that target as JSON (--key required): the pointer
    and manifest signatures and every digest the target uses are verified,
    only the files it uses are downloaded, and its secret references are
    decrypted with this machine's identity (an error, never another tenant's
    plaintext, when it cannot).  With --cache-dir the verified version is
    cached, a pointer older than one seen is refused, and the cached version
    is printed (with a warning) when the source is unreachable.

    With --key, a channel pointer must name --repository (default: the one
    first seen from this source), be unexpired (else exit 5 unless
    --allow-expired) and not older than the highest serial recorded in the
    serial state file (--state-file) or --min-serial.

    Verification failures exit 5 and change nothing on disk.

    \b
    Examples:
      cfgc pull --from s3://acme-config/bundles --channel prod --target acme/prod/chat --key ci.pub
      cfgc pull prod --from s3://acme-config/bundles --out /srv/config --key ci.pub
      cfgc pull 3f2a9c81d0e4 --from file:///srv/bundles --out /tmp/b
    """
    if ref and channel:
        raise UsageError("give either a VERSION|CHANNEL argument or --channel, not both")
    ref = ref or channel
    if not ref:
        raise UsageError("name what to pull: a VERSION|CHANNEL argument or --channel NAME")
    if not out and not target:
        raise UsageError("give --target TARGET (print it as JSON) or --out DIR (write the bundle), or both")
    password = stdin_password(username, password_stdin)
    from cfgc.api import pull

    def written(done: PullResult) -> None:
        click.echo(f"pulled version {done.version} into {done.out}{' (verified)' if done.verified else ''}",
                   err=target is not None)

    result = pull(url, ref, out=out, target=target, keys=keys, kms_keys=kms_keys, plain_http=plain_http,
                  username=username, password=password, cache_dir=cache_dir, decrypt=secrets_mode == "decrypt",
                  age_key_file=age_key_file, repository=repository, state_file=state_file, min_serial=min_serial,
                  allow_expired=allow_expired, on_written=written)
    if target is not None:
        if result.warning is not None:
            click.echo(f"warning: {result.warning}", err=True)
        click.echo(json.dumps(result.value, indent=2, sort_keys=True))
