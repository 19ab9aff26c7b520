"""A listener in a process of its own, for tests that measure what peers make it hold: a storage node's
data plane (a real DataServer over a real target, as tests/_data_node.py builds it) or a meta server
(a real MetaServer on SQLite, its framed call listener beside gRPC).

    python _listener.py data|meta DIR DEADLINE CAP [TLS_DIR]

DEADLINE (seconds) and CAP are set through the listeners' module defaults, as a node or meta started
from the command line gets them. With TLS_DIR (made by fs3/local/_certs.py: ``server.pem``,
``server.key``, ``ca.pem``) the listener serves TLS. Prints one JSON line (addresses, tokens) once serving, and serves
until its stdin closes (the test ends, or dies).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: _data_node


def _tls(tls_dir: Path | None):
    from fs3._tls import ServerTLS

    if tls_dir is None:
        return None
    return ServerTLS.of(tls_dir / "server.pem", tls_dir / "server.key", tls_dir / "ca.pem")


def _data(path: Path, tls_dir: Path | None) -> tuple[dict, object]:
    from _data_node import DataNode

    from fs3._tls import server_context

    tls = _tls(tls_dir)
    node = DataNode(path, tls=server_context(tls) if tls is not None else None)
    return {"address": node.data_address, "blob_sha256": hashlib.sha256(node.blob).hexdigest()}, node


def _meta(path: Path, tls_dir: Path | None) -> tuple[dict, object]:
    from fs3._auth import read_token_file
    from fs3.meta import MetaConfig, MetaServer

    token_file = path / "admin.token"
    server = MetaServer(MetaConfig(kv=f"sqlite:///{path}/meta.db", admin_token_file=token_file, tls=_tls(tls_dir)))
    server.start()
    return {"address": server.address, "call_address": server.call_address,
            "root": read_token_file(token_file)}, server


def main() -> None:
    kind, path, deadline, cap = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    tls_dir = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    if kind == "data":
        from fs3.storage import _client_session, _data_server

        _client_session.HANDSHAKE_DEADLINE = deadline
        _data_server.MAX_CONNECTIONS = cap
        info, server = _data(path, tls_dir)
    else:
        from fs3.meta import _call_server

        _call_server.HANDSHAKE_DEADLINE = deadline
        _call_server.MAX_CONNECTIONS = cap
        info, server = _meta(path, tls_dir)
    print(json.dumps(info), flush=True)
    sys.stdin.read()  # until the test closes our stdin (or exits)
    server.stop()


if __name__ == "__main__":
    main()
