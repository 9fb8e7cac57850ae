"""``cfgc agent``: the runtime as an HTTP sidecar."""

from __future__ import annotations

from pathlib import Path

import click

from cfgc.cli.common import stdin_password, store_options
from cfgc.cli.main import command
from cfgc.cli.pull import with_runtime_pointer_options


@command("agent")
@store_options("--from")
@click.option("--channel", required=True, metavar="NAME", help="Channel to follow.")
@click.option("--key", "keys", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Trusted public key (repeatable); versions must be signed by one of them.")
@click.option("--kms-key", "kms_keys", multiple=True, metavar="ARN", help="Trust this AWS KMS key.")
@click.option("--listen", required=True, metavar="HOST:PORT|unix:PATH", help="Where to serve HTTP.")
@click.option("--target", "targets", multiple=True, metavar="GLOB",
              help="Targets to serve (names or globs, repeatable; default: all).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the last verified version here; served at start when the source is unreachable.")
@click.option("--interval", type=click.FloatRange(min=0.05), default=30.0, show_default=True,
              help="Seconds between channel polls (each is one conditional request).")
@click.option("--serve-secrets", is_flag=True,
              help="Serve decrypted secrets at /v1/targets/T/secrets/PATH (loopback or unix socket only).")
@click.option("--age-key-file", type=click.Path(dir_okay=False, exists=True),
              help="age identity for --serve-secrets (default: SOPS_AGE_KEY / SOPS_AGE_KEY_FILE; KMS from AWS env).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also answer requests with this Host (e.g. a Kubernetes service name; repeatable). "
                   "Secrets stay loopback-only. Default: localhost, 127.0.0.1, [::1] only.")
@click.option("--header-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds for a request head to arrive (from connect or its first byte); then 408 and close.")
@click.option("--idle-timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds a keep-alive connection may stay idle, or leave its answers unread, before it is closed.")
@click.option("--max-connections", type=click.IntRange(min=1), default=512, show_default=True,
              help="Open connections served; 8 more may ask /health/* only; beyond, new ones are closed.")
@click.option("--parsed-targets", type=click.IntRange(min=1), default=64, show_default=True, metavar="N",
              help="Targets kept parsed for /values/ reads (least recently used dropped first); "
                   "every target's JSON bytes are kept regardless.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
@with_runtime_pointer_options
def agent_cmd(url: str, plain_http: bool, username: str | None, password_stdin: bool, channel: str,
              keys: tuple[Path, ...], kms_keys: tuple[str, ...], listen: str, targets: tuple[str, ...],
              cache_dir: Path | None, interval: float, serve_secrets: bool, age_key_file: str | None,
              allow_hosts: tuple[str, ...], header_timeout: float, idle_timeout: float, max_connections: int,
              parsed_targets: int, log_format: str, log_level: str, repository: str | None, state_file: Path | None,
              min_serial: int) -> None:
    """Serve verified configuration over HTTP: the sidecar for non-Python services.

    \b
    GET /v1/targets/{target}                  the target as JSON (secrets as references)
    GET /v1/targets/{target}/values/{path}    one value (dotted path)
    GET /v1/targets/{target}/secrets/{path}   a decrypted secret (--serve-secrets only)
    GET /v1/watch                             server-sent events, one per new version
    GET /v1/status                            version, serial, staleness, failures
    GET /health/live  /health/ready  /metrics (Prometheus)

    The agent answers /health/live at once and /health/ready (200) once a
    verified version is loaded, from the source or from --cache-dir.  A
    failed refresh (unreachable source, bad signature or digest, a replayed
    channel pointer) keeps the current version and shows in /v1/status and
    /metrics.  A channel pointer past its expiry keeps the version served but
    reports stale (/health/ready, /v1/status, cfgc_runtime_pointer_expired).
    Pointers of another --repository, or older than a serial recorded in the
    --state-file, are refused.  SIGTERM stops it cleanly (exit 0).  Only loopback Host
    headers are answered (DNS rebinding), plus --allow-host names for
    everything but secrets; other hosts get 421.

    \b
    Examples:
      cfgc agent --from s3://acme-config/bundles --channel prod --key ci.pub \\
          --listen 127.0.0.1:8500 --target 'acme/prod/*' --cache-dir /var/cache/cfgc
      cfgc agent --from oci://registry.example.com/acme/config --channel prod --key ci.pub \\
          --listen unix:/run/cfgc/agent.sock --serve-secrets --log-format json
    """
    # Not through cfgc.api: a running sidecar imports nothing of the compiler or the API (memory budget).
    from cfgc.runtime.agent.launch import AgentConfig, run_agent

    password = stdin_password(username, password_stdin)
    run_agent(AgentConfig(
        url, channel, listen, keys=keys, kms_keys=kms_keys, targets=targets, cache_dir=cache_dir, interval=interval,
        serve_secrets=serve_secrets, age_key_file=age_key_file, allow_hosts=allow_hosts,
        header_timeout=header_timeout, idle_timeout=idle_timeout, max_connections=max_connections,
        parsed_targets=parsed_targets, log_format=log_format, log_level=log_level, repository=repository,
        state_file=state_file, min_serial=min_serial, plain_http=plain_http, username=username, password=password))
