"""Start the agent from its settings: the entry ``cfgc agent`` and :func:`cfgc.run_agent` share.

It lives in the runtime rather than in :mod:`cfgc.api` (which re-exports it)
because a running sidecar imports nothing of the compiler or the API: its
memory budget (docs/runtime.md, *Memory sizing*) leaves no room for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class AgentConfig:
    """What ``cfgc agent`` serves, from where, and within which limits (its flags, one field each).

    ``source`` is a store URL; ``plain_http``, ``username`` and ``password``
    are for OCI (the password never appears in the ``repr``).  ``keys`` /
    ``kms_keys`` are the keys versions must be signed by; ``listen`` is
    ``HOST:PORT`` or ``unix:PATH``.  The defaults are the command's.
    """

    source: str
    channel: str
    listen: str
    keys: tuple[Path, ...] = ()
    kms_keys: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()  # names or globs; empty: every target
    cache_dir: Path | None = None
    interval: float = 30.0
    serve_secrets: bool = False
    age_key_file: str | None = None
    allow_hosts: tuple[str, ...] = ()
    header_timeout: float = 10.0
    idle_timeout: float = 60.0
    max_connections: int = 512
    parsed_targets: int = 64
    log_format: str = "text"
    log_level: str = "info"
    repository: str | None = None
    state_file: Path | None = None
    min_serial: int = 0
    plain_http: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def run_agent(config: AgentConfig) -> None:
    """Serve ``config`` until SIGTERM or SIGINT (then return): the ``cfgc agent`` sidecar.

    Raises :class:`~cfgc.base.errors.UsageError` for ``serve_secrets`` on an
    address that is not loopback or a unix socket, and
    :class:`~cfgc.base.errors.ExternalError` (exit 4) when ``listen`` cannot
    be bound.  Everything after start-up (an unreachable store, a bad
    signature, a replayed pointer) is reported in /v1/status, never raised.
    """
    from cfgc.base.errors import UsageError, environment_error
    from cfgc.bundle.signing import Verifier, verifiers_from
    from cfgc.runtime.agent.app import Agent
    from cfgc.runtime.agent.hosts import HostPolicy, allowed_names
    from cfgc.runtime.agent.http import Limits
    from cfgc.runtime.agent.serve import is_local, parse_listen, run, setup_logging
    from cfgc.runtime.freshness import runtime_policy
    from cfgc.runtime.isolate import load_keys
    from cfgc.runtime.sync import Syncer, open_source
    from cfgc.secrets import default_keyring
    from cfgc.stores import open_store

    c = config
    addr = parse_listen(c.listen)
    if c.serve_secrets and not is_local(addr):
        raise UsageError(f"--serve-secrets needs a loopback address or a unix socket, not {c.listen}")
    setup_logging(c.log_format, c.log_level)
    # Keys are loaded, and versions verified, in forked children: this process never imports
    # cryptography nor holds a parsed manifest (runtime/isolate.py; docs/runtime.md, memory sizing).
    verifiers: list[Verifier] = list(load_keys(lambda: verifiers_from(c.keys, c.kms_keys)))
    # The runtime's bounded timeouts, unless registry options need the general opener.
    store = open_source(c.source) if not (c.plain_http or c.username or c.password is not None) else \
        open_store(c.source, plain_http=c.plain_http, username=c.username, password=c.password, must_exist=True)
    policy = runtime_policy(store.url, c.repository, c.state_file, c.min_serial)
    syncer = Syncer(store, verifiers, c.channel, c.targets or ("*",), c.cache_dir, c.interval, policy=policy,
                    parsed_max=c.parsed_targets, isolate=True)
    # Before any thread, the listening socket or a decryption key: the verifying children's parent
    # (runtime/forkserver.py) holds none of them.
    syncer.start_fork_server()
    hosts = HostPolicy(allowed_names(c.allow_hosts), check=not isinstance(addr, str))
    limits = Limits(c.header_timeout, c.idle_timeout, c.max_connections)
    agent = Agent(syncer, default_keyring(c.age_key_file) if c.serve_secrets else None, hosts=hosts, limits=limits)
    try:
        run(agent, addr)
    except OSError as e:
        # bind() names no file: say which listen address is taken (exit 4 via environment_error).
        env = environment_error(e, c.listen)
        if env is None:
            raise
        raise env from e
    finally:
        if syncer.server is not None:
            syncer.server.close()
