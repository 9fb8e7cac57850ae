"""``cfgc secrets``: SOPS-compatible encrypted files, without the sops binary."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cfgc import api
from cfgc.base.errors import InputError
from cfgc.cli.main import group

if TYPE_CHECKING:
    from cfgc.api import KeyPlan, Keyring

_FORMAT = click.Choice(["yaml", "json"])
F = TypeVar("F", bound=Callable[..., Any])


def _age_key_file(f: F) -> F:
    return click.option(
        "--age-key-file",
        type=click.Path(dir_okay=False),
        envvar=None,
        help="age identity file to decrypt with (besides SOPS_AGE_KEY_FILE / SOPS_AGE_KEY).",
    )(f)


def _config(f: F) -> F:
    return click.option(
        "--config",
        type=click.Path(dir_okay=False, exists=True),
        help="The .sops.yaml to use (default: nearest one above the file).",
    )(f)


def _keyring(age_key_file: str | None) -> Keyring:
    # One seam for every command's identities (tests put an in-memory keyring here).
    return api.default_keyring(age_key_file)


@group("secrets")
def secrets() -> None:
    """Encrypt, decrypt and edit SOPS files (compatible with the sops binary).

    \b
    Who holds which key:
      developers and CI encrypt with public recipients from .sops.yaml only;
      runtimes hold the per-tenant age identity (or KMS access) to decrypt.

    \b
    Commands that rewrite a file lock it (sidecar .NAME.cfgc-lock), re-read it
    and write atomically; they wait up to $CFGC_SECRETS_LOCK_TIMEOUT seconds
    (default 30) for another cfgc writer, then exit 4.

    \b
    Examples:
      cfgc secrets encrypt --in-place tenants/acme/secrets.yaml
      SOPS_AGE_KEY_FILE=acme.key cfgc secrets decrypt tenants/acme/secrets.yaml
      printf %s "$TOKEN" | cfgc secrets set tenants/acme/secrets.yaml api.token
      cfgc secrets updatekeys --dry-run tenants/
    """


@secrets.command("encrypt")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--in-place", "-i", is_flag=True, help="Replace FILE instead of printing.")
@click.option("--input-type", type=_FORMAT, help="Override the format guessed from the extension.")
@_config
@_age_key_file
def encrypt_cmd(
    file: str, in_place: bool, input_type: str | None, config: str | None, age_key_file: str | None
) -> None:
    """Encrypt a plaintext YAML/JSON FILE for the recipients of its creation rule.

    The first creation rule in .sops.yaml whose path_regex matches FILE (relative
    to .sops.yaml's directory) names the age recipients / KMS keys.  Only public
    keys are needed.

    \b
    Example:
      cfgc secrets encrypt --in-place tenants/acme/secrets.yaml
    """
    text = api.encrypt_secrets(file, in_place=in_place, input_type=input_type, config=config,
                               keyring=_keyring(age_key_file))
    if not in_place:
        click.echo(text, nl=False)


@secrets.command("decrypt")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--output-type", type=_FORMAT, help="Output format (default: the file's).")
@click.option("--extract", help='Print only one value: ["a"]["b"] (as sops) or a.b.')
@click.option("--input-type", type=_FORMAT, help="Override the format guessed from the extension.")
@_age_key_file
def decrypt_cmd(
    file: str,
    output_type: str | None,
    extract: str | None,
    input_type: str | None,
    age_key_file: str | None,
) -> None:
    """Decrypt FILE to standard output (the MAC is verified: exit 5 if altered).

    Needs a decryption key: an age identity (--age-key-file, SOPS_AGE_KEY_FILE,
    SOPS_AGE_KEY, ~/.config/sops/age/keys.txt) or KMS access.

    \b
    Examples:
      cfgc secrets decrypt tenants/acme/secrets.yaml
      cfgc secrets decrypt --extract '["db"]["password"]' secrets.yaml
      cfgc secrets decrypt --extract db.password --output-type json secrets.yaml
    """
    click.echo(api.decrypt_secrets(file, output_type=output_type, extract=extract, input_type=input_type,
                                   keyring=_keyring(age_key_file)), nl=False)


@secrets.command("set")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.argument("key_path")
@click.option("--json", "as_json", is_flag=True, help="Parse standard input as a JSON value.")
@_age_key_file
def set_cmd(file: str, key_path: str, as_json: bool, age_key_file: str | None) -> None:
    """Set KEY_PATH in encrypted FILE to the value read from standard input.

    The value never goes on the command line (it would show in process lists
    and shell history).  One trailing newline is dropped.  Other values keep
    their ciphertext byte for byte.

    \b
    Examples:
      printf %s "$DB_PASSWORD" | cfgc secrets set secrets.yaml db.password
      echo '{"a": 1}' | cfgc secrets set --json secrets.yaml '["limits"]'
    """
    raw = sys.stdin.read()
    if raw.endswith("\n"):
        raw = raw[:-1]
    value: Any = raw
    if as_json:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise InputError("standard input is not valid JSON") from None
    changed = api.set_secret(file, key_path, value, keyring=_keyring(age_key_file))
    click.echo(f"{file}: {'updated' if changed else 'unchanged'} {key_path}", err=True)


@secrets.command("edit")
@click.argument("file", type=click.Path(dir_okay=False))
@_config
@_age_key_file
def edit_cmd(file: str, config: str | None, age_key_file: str | None) -> None:
    """Edit encrypted FILE in $EDITOR (a new FILE is created).

    The plaintext goes to a 0600 file in a private temporary directory (on
    /dev/shm when usable) that is removed on exit, on errors and on SIGTERM,
    SIGHUP and SIGINT.  Unchanged values keep their ciphertext; if nothing
    changed the file is not rewritten.  Invalid YAML/JSON reopens the editor
    (3 times).  If another process changes FILE while the editor is open, the
    edit is refused (exit 4): run edit again.

    \b
    Example:
      EDITOR="code --wait" cfgc secrets edit tenants/acme/secrets.yaml
    """

    def on_invalid(message: str, tries_left: int) -> None:
        click.echo(f"error: {message}", err=True)
        click.echo(f"Reopening the editor to fix it ({tries_left} more tries)...", err=True)
        click.pause("Press any key to return to the editor, or Ctrl+C to abort.", err=True)

    result = api.edit_secrets(file, config=config, on_invalid=on_invalid, keyring=_keyring(age_key_file))
    state = "created" if result.created else "updated" if result.changed else "unchanged"
    click.echo(f"{file}: {state}", err=True)


def _echo_err(line: str) -> None:
    click.echo(line, err=True)


@secrets.command("updatekeys")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--dry-run", is_flag=True, help="Print the plan, change nothing.")
@click.option(
    "--yes", "-y", is_flag=True, help="Also apply a change after which your keys cannot decrypt."
)
@_config
@_age_key_file
def updatekeys_cmd(
    paths: tuple[str, ...], dry_run: bool, yes: bool, config: str | None, age_key_file: str | None
) -> None:
    """Re-wrap the data key of encrypted files for the recipients .sops.yaml names now.

    Values are not re-encrypted (use rotate for that); recipients already present
    keep their entry byte for byte.  Needs a key that can decrypt each file.
    PATHS are files or directories (default: the current directory).  The plan
    is printed for every file.  A file whose new recipients exclude every key
    you hold is not changed without --yes (exit 1).  Files that hold sops
    ciphertext but cannot be processed are named, and the exit is non-zero.

    \b
    Onboarding a runtime for tenant acme:
      age-keygen -o acme.key                # on the runtime; publish the age1... line
      # add the recipient to the tenant's rule in .sops.yaml, then
      cfgc secrets updatekeys --dry-run tenants/acme
      cfgc secrets updatekeys tenants/acme
    """
    api.update_keys(paths, config=config, dry_run=dry_run, yes=yes, on_plan=_print_plan, on_error=_echo_err,
                    keyring=_keyring(age_key_file))


@secrets.command("rotate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--dry-run", is_flag=True, help="List the files, change nothing.")
@_age_key_file
def rotate_cmd(paths: tuple[str, ...], dry_run: bool, age_key_file: str | None) -> None:
    """Give encrypted files a new data key and re-encrypt every value.

    Do this after removing a recipient (updatekeys alone does not stop a
    removed key holder from reading values it saw before) or on a schedule.
    Files that hold sops ciphertext but cannot be processed are named, and the
    exit is non-zero.

    \b
    Example:
      cfgc secrets rotate --dry-run tenants/acme
      cfgc secrets rotate tenants/acme
    """
    api.rotate_keys(paths, dry_run=dry_run, on_plan=_print_plan, on_error=_echo_err, keyring=_keyring(age_key_file))


def _print_plan(plan: KeyPlan, dry_run: bool) -> None:
    verb = "would " if dry_run else ""
    if plan.rotated:
        click.echo(f"{plan.path}: {verb}rotate data key")
        return
    if not plan.changed:
        click.echo(f"{plan.path}: up to date")
        return
    click.echo(f"{plan.path}: {verb}update keys")
    for r in plan.added:
        click.echo(f"  + {r}")
    for r in plan.removed:
        click.echo(f"  - {r}")
