"""The `fs3` command line. It stands on the library; nothing below imports it."""

from __future__ import annotations

import os
import sys

import click

# gRPC's core logs each failed TLS handshake at INFO on stderr, where a command's error is one line:
# errors only (set before anything imports grpc; GRPC_VERBOSITY in the environment still wins).
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from fs3._errors import describe

from . import (
    _bench,
    _cluster,
    _cluster_moves,  # noqa: F401 - registers `fs3 cluster drain|grow|remove|moves`
    _copy,
    _demo,
    _du,
    _find,
    _host,
    _local,
    _ls,
    _mount,
    _namespace,
    _node,
    _quota,
    _servers,
    _shards,
    _sync,
    _tls,
    _users,
)
from ._common import CliState, bound_numeric_options


class _Group(click.Group):
    """Turns every library error into one clear line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise  # the reader went away (`fs3 cat ... | head`): main() exits quietly
        except OSError as exc:
            name = ctx.invoked_subcommand or ctx.info_name
            click.echo(f"fs3: {name}: {describe(exc)}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("fs3: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--cluster", envvar="FS3_CLUSTER", metavar="ADDR",
              help="Meta server HOST:PORT or local cluster data directory (default: the most recent `fs3 up`).")
@click.option("--token", envvar="FS3_TOKEN", metavar="TOKEN", show_envvar=True,
              help="Your fs3 token (default: the admin token of a cluster you started with `fs3 up`).")
@click.version_option(package_name="fs3")
@click.pass_context
def cli(ctx: click.Context, cluster: str | None, token: str | None) -> None:
    """fs3: a distributed parallel file system for training data."""
    ctx.obj = CliState(cluster, token)
    ctx.call_on_close(ctx.obj.close)


for command in (
    _local.up, _local.down, _local.status, _demo.demo,
    _servers.meta, _servers.storage, _tls.tls_certs,
    _ls.ls, _namespace.cat, _namespace.mkdir, _namespace.rm, _namespace.mv, _namespace.stat,
    _namespace.ln, _namespace.chmod, _namespace.chown, _namespace.df, _quota.quota,
    _du.du, _find.find,
    _copy.cp, _sync.sync, _cluster.cluster, _node.node, _host.host, _bench.bench, _users.user, _shards.shards, _mount.mount, _mount.umount,
):
    cli.add_command(command)
bound_numeric_options(cli)  # after every registration: no numeric option without bounds


def main() -> None:
    try:
        cli.main(prog_name="fs3")
    except BrokenPipeError:  # `fs3 cat big | head`
        sys.stderr.close()
        sys.exit(0)
