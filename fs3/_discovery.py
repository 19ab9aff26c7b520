"""Finding a cluster: an explicit address, ``FS3_CLUSTER``, or the most recent local cluster.

An address is ``HOST:PORT`` of a meta server or the data directory of a local cluster (which records its
meta addresses in ``cluster.json``). ``fs3 up`` remembers its data directory under the state directory
(``$FS3_STATE_DIR``, else ``$XDG_STATE_HOME/fs3``, else ``~/.local/state/fs3``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ._errors import InvalidArgument, Unavailable

CLUSTER_FILE = "cluster.json"
ENV_CLUSTER = "FS3_CLUSTER"


def state_dir() -> Path:
    if os.environ.get("FS3_STATE_DIR"):
        return Path(os.environ["FS3_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "fs3"


def remember_cluster(data_dir: Path, meta: list[str] | None = None) -> None:
    """Record a local cluster as the most recent one, and which data directory each of its meta
    addresses belongs to (so a client given only an address finds the cluster's admin token)."""
    d = state_dir()
    d.mkdir(parents=True, exist_ok=True)
    data_dir = Path(data_dir).resolve()
    tmp = d / "last-cluster.tmp"
    tmp.write_text(str(data_dir))
    os.replace(tmp, d / "last-cluster")
    known = _known_clusters()
    known.update({address: str(data_dir) for address in meta or []})
    tmp = d / "clusters.json.tmp"
    tmp.write_text(json.dumps(known, indent=1))
    os.replace(tmp, d / "clusters.json")


def _known_clusters() -> dict[str, str]:
    try:
        known = json.loads((state_dir() / "clusters.json").read_text())
        return known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        return {}


def last_cluster_dir() -> Path | None:
    try:
        return Path((state_dir() / "last-cluster").read_text().strip())
    except OSError:
        return None


def read_cluster_file(data_dir: Path) -> dict:
    try:
        return json.loads((Path(data_dir) / CLUSTER_FILE).read_text())
    except FileNotFoundError:
        raise Unavailable(f"no fs3 cluster in {data_dir} (no {CLUSTER_FILE}; start one with `fs3 up`)") from None
    except (OSError, ValueError) as exc:
        raise Unavailable(f"cannot read {Path(data_dir) / CLUSTER_FILE}: {exc}") from None


def _is_address(text: str) -> bool:
    host, sep, port = text.rpartition(":")
    return bool(sep and host and port.isdigit())


def meta_addresses(address: str | None = None) -> list[str]:
    """The meta addresses to use, from the argument, ``FS3_CLUSTER`` or the last local cluster."""
    spec = address or os.environ.get(ENV_CLUSTER)
    if spec:
        several = [a.strip() for a in spec.split(",") if a.strip()]
        if len(several) > 1 and all(_is_address(a) for a in several):  # HOST:PORT,HOST:PORT,...
            return several
        if _is_address(spec) and not Path(spec).is_dir():
            return [spec]
        if Path(spec).is_dir():
            return _addresses_of(Path(spec))
        raise InvalidArgument(
            f"Invalid cluster {spec!r}: expected HOST:PORT of a meta server (or several, comma-separated) "
            "or a local cluster's data directory"
        )
    last = last_cluster_dir()
    if last is None:
        raise Unavailable(
            "no fs3 cluster given and none started on this machine: run `fs3 up`, "
            f"or pass --cluster HOST:PORT (or set {ENV_CLUSTER})"
        )
    return _addresses_of(last)


def _addresses_of(data_dir: Path) -> list[str]:
    info = read_cluster_file(data_dir)
    addresses = info.get("meta") or []
    if not addresses:
        raise Unavailable(f"the cluster in {data_dir} has no meta server recorded (is it running? `fs3 status`)")
    return list(addresses)


def cluster_dir(address: str | None = None) -> Path | None:
    """The data directory of the local cluster ``address`` names (its directory, or one of its meta
    addresses), if it is one started on this machine; it holds the cluster's admin token."""
    spec = address or os.environ.get(ENV_CLUSTER)
    if spec and Path(spec).is_dir():
        return Path(spec)
    if not spec:
        return last_cluster_dir()
    known = _known_clusters().get(spec.split(",")[0].strip())
    return Path(known) if known else None
