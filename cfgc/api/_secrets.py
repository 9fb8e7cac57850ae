"""The secrets half of the public API: SOPS files, encrypted, decrypted, edited and re-keyed.

Decrypting needs this machine's identity: ``age_key_file`` (besides
``SOPS_AGE_KEY_FILE`` / ``SOPS_AGE_KEY`` / ``~/.config/sops/age/keys.txt``)
and AWS KMS from the environment, or a ``keyring`` built once with
:func:`default_keyring` (it wins over ``age_key_file``).  Encrypting needs
only the public recipients ``.sops.yaml`` names.  Every rewrite locks the
file, re-reads it and writes atomically (docs/secrets.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cfgc.secrets.editing import EditResult
    from cfgc.secrets.keysources import Keyring
    from cfgc.secrets.rekey import KeyPlan

PathArg = str | os.PathLike[str]
OnPlan = Callable[["KeyPlan", bool], None]
OnError = Callable[[str], None]


def default_keyring(age_key_file: str | None = None) -> Keyring:
    """This machine's identities: age (the sops variables, or ``age_key_file``) and AWS KMS."""
    from cfgc.secrets.keysources import default_keyring as machine_keyring

    return machine_keyring(age_key_file)


def _keys(keyring: Keyring | None, age_key_file: str | None) -> Keyring:
    return keyring if keyring is not None else default_keyring(age_key_file)


def encrypt_secrets(file: PathArg, *, in_place: bool = False, input_type: str | None = None,
                    config: PathArg | None = None, keyring: Keyring | None = None,
                    age_key_file: str | None = None) -> str:
    """The plaintext YAML/JSON ``file`` encrypted for the recipients of its ``.sops.yaml`` creation rule.

    ``in_place`` also replaces ``file``.  ``config`` is the ``.sops.yaml``
    (default: the nearest one above the file); ``input_type`` (``yaml`` or
    ``json``) overrides the format the extension names.  An encrypted or
    empty file raises :class:`~cfgc.base.errors.InputError`.
    """
    from cfgc.secrets import ops

    return ops.encrypt_file(file, _keys(keyring, age_key_file), config, in_place, input_type)


def decrypt_secrets(file: PathArg, *, output_type: str | None = None, extract: str | None = None,
                    input_type: str | None = None, keyring: Keyring | None = None,
                    age_key_file: str | None = None) -> str | bytes:
    """The plaintext of encrypted ``file`` as ``cfgc secrets decrypt`` prints it (the MAC verified).

    The whole document (with its comments) in ``output_type`` (default: the
    file's format) as bytes; with ``extract`` (``["a"]["b"]`` or ``a.b``)
    one value as text: a string as it is, a mapping in ``output_type``, other
    values as JSON.  An altered file raises
    :class:`~cfgc.base.errors.IntegrityError`.
    """
    from cfgc.secrets import fileio, ops

    fmt = output_type or fileio.format_for(file, input_type)
    tree = ops.decrypt_file(file, _keys(keyring, age_key_file), input_type, with_comments=extract is None)
    if extract is None:
        return fileio.dump_bytes(tree, fmt)
    value = ops.get_path(tree, ops.parse_key_path(extract))
    if isinstance(value, str):
        return value
    # A mapping in the asked format; lists and scalars as JSON (valid YAML too).
    return fileio.dumps(value, fmt if isinstance(value, dict) else "json")


def set_secret(file: PathArg, key_path: str, value: Any, *, keyring: Keyring | None = None,
               age_key_file: str | None = None) -> bool:
    """Set ``key_path`` (``["a"]["b"]`` or ``a.b``) in encrypted ``file`` to ``value``; True if it changed.

    Every other value keeps its ciphertext byte for byte.
    """
    from cfgc.secrets import ops

    return ops.set_value(file, ops.parse_key_path(key_path), value, _keys(keyring, age_key_file))


def edit_secrets(file: PathArg, *, config: PathArg | None = None, on_invalid: Callable[[str, int], None] | None = None,
                 editor: str | None = None, keyring: Keyring | None = None,
                 age_key_file: str | None = None) -> EditResult:
    """Edit encrypted ``file`` in ``editor`` (default $VISUAL, $EDITOR, vi); a new file is created.

    The plaintext lives in a private 0600 temporary file removed on every
    exit.  Invalid YAML/JSON calls ``on_invalid(message, tries_left)`` and
    reopens the editor.  A file another process changed meanwhile is not
    overwritten (:class:`~cfgc.base.errors.ExternalError`).  ``EditResult``:
    ``created``, ``changed``.
    """
    from cfgc.secrets.editing import edit_file

    return edit_file(file, _keys(keyring, age_key_file), config, on_invalid, editor)


def update_keys(paths: Sequence[PathArg] = (), *, config: PathArg | None = None, dry_run: bool = False,
                yes: bool = False, on_plan: OnPlan | None = None, on_error: OnError | None = None,
                keyring: Keyring | None = None, age_key_file: str | None = None) -> tuple[KeyPlan, ...]:
    """Re-wrap the data key of every SOPS file under ``paths`` (default: here) for today's recipients.

    Values are not re-encrypted (:func:`rotate_keys` does that).  A file whose
    new recipients exclude every key you hold is left as it is unless
    ``yes``.  Each plan goes to ``on_plan(plan, dry_run)`` as it is made and
    each file that fails to ``on_error(line)``; the run goes on, then raises
    a :class:`~cfgc.base.errors.CfgcError` naming every file not done.
    """
    from cfgc.secrets import rekey

    kr = _keys(keyring, age_key_file)
    return _apply(paths, lambda p: rekey.updatekeys(p, kr, config, dry_run, yes), dry_run, on_plan, on_error)


def rotate_keys(paths: Sequence[PathArg] = (), *, dry_run: bool = False, on_plan: OnPlan | None = None,
                on_error: OnError | None = None, keyring: Keyring | None = None,
                age_key_file: str | None = None) -> tuple[KeyPlan, ...]:
    """Give every SOPS file under ``paths`` a new data key and re-encrypt its values (as :func:`update_keys`)."""
    from cfgc.secrets import rekey

    kr = _keys(keyring, age_key_file)
    return _apply(paths, lambda p: rekey.rotate(p, kr, dry_run), dry_run, on_plan, on_error)


def _apply(paths: Sequence[PathArg], one: Callable[[Path], KeyPlan], dry_run: bool, on_plan: OnPlan | None,
           on_error: OnError | None) -> tuple[KeyPlan, ...]:
    from cfgc.secrets import rekey

    plans: list[KeyPlan] = []

    def planned(plan: KeyPlan, dry: bool) -> None:
        plans.append(plan)
        if on_plan is not None:
            on_plan(plan, dry)

    rekey.apply_all([Path(p) for p in paths], one, dry_run=dry_run, on_plan=planned,
                    on_error=on_error if on_error is not None else (lambda _line: None))
    return tuple(plans)
