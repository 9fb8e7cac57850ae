"""Entry point of the ``cfgc`` console script and the error edge.

Every command raises :class:`cfgc.base.errors.CfgcError` for failures a user can fix;
this module turns them into ``path:line:col: error: message`` lines and the exit
code of the error; environment failures (disk full, permissions, descriptors,
memory, ports: :func:`cfgc.base.errors.environment_error`) into exit 4 with a plain
message naming the path; and anything else into exit 3 with a hint to rerun
with ``--debug`` (which shows the traceback).
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from typing import Any, NoReturn

import click

from cfgc import __version__
from cfgc.base.errors import EXIT_BUG, EXIT_USAGE, CfgcError, environment_error
from cfgc.cli.failure import echo_failure, note_argv
from cfgc.cli.failure import reset as reset_failure_state

# The one table of commands: which module defines each, so running one command
# imports only its module (diff pulls in deepdiff and numpy; a build should not
# pay for that) and the command set stays explicit.  A module named here that
# cannot be imported is an error, never a command silently left out.
COMMAND_HOMES = {
    "build": "cfgc.cli.build",
    "validate": "cfgc.cli.validate",
    "explain": "cfgc.cli.explain",
    "init": "cfgc.cli.init",
    "secrets": "cfgc.cli.secrets",
    "keys": "cfgc.cli.keys",
    "sign": "cfgc.cli.sign",
    "verify": "cfgc.cli.sign",
    "publish": "cfgc.cli.publish",
    "promote": "cfgc.cli.publish",
    "channel": "cfgc.cli.publish",
    "versions": "cfgc.cli.publish",
    "pull": "cfgc.cli.pull",
    "agent": "cfgc.cli.agent",
    "diff": "cfgc.cli.diff",
    "check": "cfgc.cli.check",
    "history": "cfgc.cli.history",
    "bundle": "cfgc.cli.bundle",
}


class CfgcGroup(click.Group):
    """A group that maps cfgc errors to exit codes at the edge and loads commands lazily."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        home = COMMAND_HOMES.get(cmd_name)
        if cmd_name not in self.commands and home is not None:
            register_commands([home])
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        register_commands()
        return super().list_commands(ctx)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        reset_failure_state()
        return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as e:  # noqa: BLE001 - the last line of defence
            fail(e, _debug(ctx))
        except KeyboardInterrupt as e:
            fail(e, _debug(ctx))


def fail(e: BaseException, debug: bool) -> NoReturn:
    """Report a command's failure and exit with its code: the error edge of every command
    (also of the click-free ``cfgc build`` in :mod:`cfgc.cli.entry`)."""
    if isinstance(e, CfgcError):
        echo_failure(e.exit_code, e)
        _report(e, debug)
        sys.exit(e.exit_code)
    if isinstance(e, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(130)
    if isinstance(e, BrokenPipeError):
        # The reader went away (`cfgc explain ... | head`): not an error of ours.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)
    if isinstance(e, (OSError, MemoryError)):
        env = environment_error(e)
        if env is None:
            _bug(e, debug)
        echo_failure(env.exit_code, env)
        _report(env, debug)
        sys.exit(env.exit_code)
    _bug(e, debug)


def _bug(e: BaseException, debug: bool) -> NoReturn:
    """Exit 3: only for what cfgc itself got wrong."""
    echo_failure(EXIT_BUG, e)
    if debug:
        import traceback  # only for --debug and bugs: not on every command's start-up

        traceback.print_exc()
    else:
        click.echo(
            f"internal error: {type(e).__name__}: {e}\n"
            "this is a bug in cfgc; rerun with --debug for the traceback",
            err=True,
        )
    sys.exit(EXIT_BUG)


def _debug(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(root.params.get("debug"))


def _report(e: CfgcError, debug: bool) -> None:
    if debug:
        import traceback  # only for --debug and bugs: not on every command's start-up

        traceback.print_exc()
    click.echo(str(e), err=True)


@click.group(cls=CfgcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cfgc")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def cli(debug: bool) -> None:
    """cfgc compiles layered YAML configuration into validated, signed bundles.

    \b
    Typical use:
      cfgc validate                  check the repo in the current directory
      cfgc build --out build/bundle  compile every target into a bundle
      cfgc explain acme/prod/chat models.primary.timeout_s
                                     show which layers set a value

    Every command finds the config repo by walking up from the current
    directory to cfgc.yaml, or takes --repo DIR.

    \b
    Exit codes: 0 ok, 1 invalid input, 2 usage error, 3 internal bug,
    4 external system or environment failed (disk full, permission denied,
    out of memory, ...), 5 integrity failure.
    """


_imported: set[str] = set()


def register_commands(modules: list[str] | None = None) -> None:
    """Add the commands of ``modules`` (default: every command module) to :data:`cli`.

    Commands load lazily when invoked by name; tools that walk the whole tree
    (the CLI reference, tests) call this first.
    """
    import importlib

    for name in modules if modules is not None else dict.fromkeys(COMMAND_HOMES.values()):
        if name in _imported:
            continue
        mod = importlib.import_module(name)
        _imported.add(name)
        for obj in vars(mod).values():
            if isinstance(obj, click.Command) and obj in _TOP:
                cli.add_command(obj)


# The top-level commands of the modules in COMMAND_HOMES (what register_commands adds).
_TOP: weakref.WeakSet[click.Command] = weakref.WeakSet()


def command(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """Decorator for a top-level cfgc command (marks it for registration)."""

    def deco(f: Callable[..., Any]) -> click.Command:
        cmd: click.Command = click.command(*args, **kwargs)(f)
        _TOP.add(cmd)
        return cmd

    return deco


def group(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Group]:
    """Decorator for a top-level cfgc command group."""

    def deco(f: Callable[..., Any]) -> click.Group:
        grp: click.Group = click.group(*args, **kwargs)(f)
        _TOP.add(grp)
        return grp

    return deco


def main() -> None:
    """Run the cfgc command line."""
    try:
        cli.main(standalone_mode=False, prog_name="cfgc")
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        code = EXIT_USAGE if isinstance(e, click.UsageError) else e.exit_code
        note_argv(sys.argv[1:])
        echo_failure(code, e)
        e.show()
        sys.exit(code)
    sys.exit(0)
