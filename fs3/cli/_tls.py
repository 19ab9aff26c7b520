"""`fs3 tls-certs`: a CA and server certificates for a deployment's host names (what `fs3 up --tls` makes
for a local cluster)."""

from __future__ import annotations

from pathlib import Path

import click

from fs3._errors import InvalidArgument

from ._common import emit_json


def _server(spec: str) -> tuple[str, list[str]]:
    name, sep, hosts = spec.partition("=")
    names = [h.strip() for h in (hosts if sep else name).split(",") if h.strip()]
    if not name or "/" in name or name.startswith(".") or not names:
        raise InvalidArgument(f"Invalid server {spec!r}: expected NAME=HOST[,HOST...] (or a host name alone)")
    return name, names


@click.command("tls-certs")
@click.argument("directory", type=click.Path(path_type=Path))
@click.argument("servers", nargs=-1, required=True, metavar="NAME=HOST[,HOST...]...")
@click.option("--json", "as_json", is_flag=True, help="Print the files made as JSON.")
def tls_certs(directory, servers, as_json):
    """Make (or keep) a CA in DIRECTORY and a certificate for each server, naming the host names and IP
    addresses clients reach it at, e.g. `fs3 tls-certs ./tls meta1 storage1=storage1,10.0.0.7`.
    Keys are 0600 in a 0700 directory; existing certificates are kept while they still fit. Give each
    server --tls-cert NAME.pem --tls-key NAME.key --tls-ca ca.pem, and clients FS3_TLS_CA=ca.pem.
    ca.key signs certificates: keep it where no server runs."""
    from fs3.local import ensure_ca, ensure_server_cert

    ca, ca_key = ensure_ca(directory)
    made = {name: ensure_server_cert(directory, name, hosts) for name, hosts in map(_server, servers)}
    if as_json:
        emit_json({"ca": str(ca), "ca_key": str(ca_key),
                   "servers": {n: {"cert": str(c), "key": str(k)} for n, (c, k) in made.items()}})
        return
    click.echo(f"CA: {ca} (its key: {ca_key}; keep it off the servers)")
    for name, (cert, key) in made.items():
        click.echo(f"{name}: --tls-cert {cert} --tls-key {key} --tls-ca {ca}")
