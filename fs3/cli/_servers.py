"""Server processes: `fs3 meta` and `fs3 storage` (what `fs3 up` starts, and what a deployment runs)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from fs3._layout import DEFAULT_CHUNK_SIZE, DEFAULT_STRIPE


def _tls_options(f):
    """--tls-cert, --tls-key and --tls-ca: all three turn TLS on for every listener of the server and
    for the connections it opens (docs/security.md)."""
    f = click.option("--tls-ca", type=click.Path(path_type=Path), show_envvar=True, envvar="FS3_TLS_CA",
                     help="The CA (PEM) that signed the servers' certificates: verifies the servers this one "
                          "calls.")(f)
    f = click.option("--tls-key", type=click.Path(path_type=Path), show_envvar=True, envvar="FS3_TLS_KEY",
                     help="This server's private key (PEM), readable by its owner alone (0600).")(f)
    f = click.option("--tls-cert", type=click.Path(path_type=Path), show_envvar=True, envvar="FS3_TLS_CERT",
                     help="This server's certificate chain (PEM), naming the host names and addresses "
                          "clients dial. With --tls-key and --tls-ca: TLS on.")(f)
    return f


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@click.command()
@click.option("--kv", required=True, metavar="URL", show_envvar=True, envvar="FS3_KV", help="KV store, e.g. sqlite:///var/lib/fs3/meta.db")
@click.option("--listen", default="127.0.0.1:8000", show_default=True, show_envvar=True, envvar="FS3_LISTEN", help="HOST:PORT for gRPC (port 0: any).")
@click.option("--addr-file", type=click.Path(path_type=Path), help="Write the bound address here once serving.")
@click.option("--chunk-size", default=DEFAULT_CHUNK_SIZE, show_default=True, show_envvar=True, envvar="FS3_CHUNK_SIZE", help="Default chunk size of new files.")
@click.option("--stripe", default=DEFAULT_STRIPE, show_default=True, show_envvar=True, envvar="FS3_STRIPE", help="Default stripe of new files.")
@click.option("--gc-delay", default=10.0, show_default=True, show_envvar=True, envvar="FS3_GC_DELAY", help="Seconds before removed files' chunks are reclaimed.")
@click.option("--session-ttl", default=60.0, show_default=True, show_envvar=True, envvar="FS3_SESSION_TTL",
              type=click.FloatRange(min=0, min_open=True),
              help="Seconds an open file's session lives unrenewed (clients renew every 15 s): then its client "
                   "is taken for dead, and a removed file it held open is reclaimed.")
@click.option("--scrub-interval", default=3600.0, show_default=True, show_envvar=True, envvar="FS3_SCRUB_INTERVAL",
              help="Seconds between chain scrubs, which restore chunks missing or different on some replicas "
                   "(0: none; `fs3 cluster scrub` runs one at once).")
@click.option("--advertise", default="", metavar="HOST:PORT", show_envvar=True, envvar="FS3_ADVERTISE",
              help="Address clients reach this server at.")
@click.option("--heartbeat-timeout", default=6.0, show_default=True,
              help="Seconds without a heartbeat after which a storage node is offline.")
@click.option("--unreachable-quorum", default=2, show_default=True, type=click.IntRange(1, 1000), show_envvar=True,
              envvar="FS3_UNREACHABLE_QUORUM",
              help="Clients that must report a storage node they cannot reach (while it still heartbeats) "
                   "before its targets are taken out of their chains.")
@click.option("--admin-token-file", type=click.Path(path_type=Path), show_envvar=True, envvar="FS3_ADMIN_TOKEN_FILE",
              help="The root user's token: read if the file exists, else created (mode 0600).")
@click.option("--secret-file", type=click.Path(path_type=Path), show_envvar=True, envvar="FS3_SECRET_FILE",
              help="The cluster secret (signs node tokens and capabilities), apart from the namespace: read if "
                   "the file exists, else created (mode 0600); every meta server needs the same file. "
                   "Without it the secret is kept in the KV store.")
@click.option("--peer", "peers", multiple=True, metavar="HOST:PORT", show_envvar=True, envvar="FS3_PEERS",
              help="Every meta server's address clients may use, this one included (repeatable).")
@click.option("--http", default="", metavar="HOST:PORT", show_envvar=True, envvar="FS3_HTTP",
              help="Serve the admin HTTP API, Prometheus /metrics and the dashboard here (port 0: any).")
@click.option("--http-addr-file", type=click.Path(path_type=Path), help="Write the dashboard's URL here once serving.")
@click.option("--calls", default="", metavar="HOST:PORT|off", show_envvar=True, envvar="FS3_META_CALLS",
              help="Framed namespace-call listener beside gRPC (default: the --listen host, any free port; "
                   "clients learn it from the routing info; off: gRPC only).")
@_tls_options
@click.option("--log-level", default="info", show_default=True)
def meta(kv, listen, addr_file, chunk_size, stripe, gc_delay, session_ttl, advertise, heartbeat_timeout,
         unreachable_quorum, admin_token_file,
         scrub_interval, secret_file,
         peers, http, http_addr_file, calls, tls_cert, tls_key, tls_ca, log_level):
    """Run a metadata server (namespace + cluster manager)."""
    from fs3._tls import ServerTLS
    from fs3.meta import MetaConfig, serve

    _logging(log_level)
    serve(MetaConfig(kv=kv, listen=listen, addr_file=addr_file, chunk_size=chunk_size, stripe=stripe,
                     gc_delay=gc_delay, session_ttl=session_ttl, scrub_interval=scrub_interval, advertise=advertise,
                     heartbeat_timeout=heartbeat_timeout, unreachable_quorum=unreachable_quorum,
                     admin_token_file=admin_token_file, secret_file=secret_file, peers=list(peers), http=http,
                     http_addr_file=http_addr_file, calls=calls, tls=ServerTLS.of(tls_cert, tls_key, tls_ca)))


@click.command()
@click.option("--meta", "meta_addresses", required=True, multiple=True, metavar="HOST:PORT", show_envvar=True, envvar="FS3_META",
              help="A meta server to register with (repeatable).")
@click.option("--target", "targets", required=True, multiple=True, type=click.Path(path_type=Path),
              show_envvar=True, envvar="FS3_TARGETS",
              help="A target directory (repeatable).")
@click.option("--listen", default="127.0.0.1:9000", show_default=True, show_envvar=True, envvar="FS3_LISTEN", help="HOST:PORT for gRPC (port 0: any).")
@click.option("--addr-file", type=click.Path(path_type=Path), help="Write the bound address here once serving.")
@click.option("--advertise", default="", metavar="HOST:PORT", show_envvar=True, envvar="FS3_ADVERTISE",
              help="Address clients reach this node at (default: the listen address; its hostname when "
                   "listening on 0.0.0.0).")
@click.option("--data-port", default=0, show_default=True, show_envvar=True, envvar="FS3_DATA_PORT", help="Data-plane port on the listen host (0: any).")
@click.option("--io-threads", default=16, show_default=True, show_envvar=True, envvar="FS3_IO_THREADS", help="Disk requests in flight.")
@click.option("--data-loops", default=1, show_default=True, show_envvar=True, envvar="FS3_DATA_LOOPS",
              type=click.IntRange(1, 64), help="Event loops (threads) serving data-plane connections.")
@click.option("--shm/--no-shm", default=True, show_default=True,
              help="Offer the shared-memory transport to clients on this host.")
@click.option("--data-socket/--no-data-socket", default=True, show_default=True, show_envvar=True,
              envvar="FS3_DATA_SOCKET",
              help="Also serve the data plane to clients on this host over a local (abstract Unix) socket.")
@click.option("--ucx/--no-ucx", default=True, show_default=True, show_envvar=True, envvar="FS3_STORAGE_UCX",
              help="Also serve the data plane over UCX (RDMA where UCX finds it) when the ucxx bindings are "
                   "installed (pip install 'fs3[ucx]') and TLS is off.")
@click.option("--direct-io/--no-direct-io", default=True, show_default=True, help="Use O_DIRECT for chunk data.")
@click.option("--token-file", type=click.Path(path_type=Path), show_envvar=True, envvar="FS3_TOKEN_FILE",
              help="File holding an admin token to join the cluster with (default: $FS3_TOKEN).")
@_tls_options
@click.option("--log-level", default="info", show_default=True)
def storage(meta_addresses, targets, listen, addr_file, advertise, data_port, io_threads, data_loops, shm,
            data_socket, ucx, direct_io, token_file, tls_cert, tls_key, tls_ca, log_level):
    """Run a storage node serving chunks from its target directories."""
    from fs3._auth import ENV_TOKEN, read_token_file
    from fs3._tls import ServerTLS
    from fs3.storage import StorageConfig, serve

    _logging(log_level)
    try:
        token = read_token_file(token_file) if token_file else os.environ.get(ENV_TOKEN, "").strip()
    except OSError as exc:
        raise click.UsageError(f"cannot read --token-file {token_file}: {exc.strerror or exc}") from None
    serve(StorageConfig(meta=list(meta_addresses), targets=list(targets), listen=listen,
                        addr_file=addr_file, advertise=advertise, data_port=data_port,
                        io_threads=io_threads, data_loops=data_loops, shm=shm, data_socket=data_socket,
                        ucx=ucx, direct_io=direct_io, token=token, tls=ServerTLS.of(tls_cert, tls_key, tls_ca)))
