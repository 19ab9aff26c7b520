"""Hosts on one machine for a local cluster: Linux network namespaces on a bridge (`fs3 up --hosts N`).

Each host is a network namespace with its own address on a bridge made for the cluster, its own
loopback and its own ``/dev/shm`` (a tmpfs per host, bound over ``/dev/shm`` in every process started
there), so a client on one host reaches a storage node on another over TCP through the bridge, as
between machines, while processes of one host share memory as on one machine. ``--nic RATE`` shapes
each host's link both ways with a token bucket (``tc tbf``). A host's firewall (iptables inside its
namespace) makes partitions that concern that host alone: nothing global on the machine changes.

Everything made here is recorded in the cluster file and in a registry under /run, so ``fs3 down``
removes it, and a later ``fs3 up`` removes what a crashed cluster left. Needs root and iproute2.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fs3._errors import FS3Error, InvalidArgument, NotPermitted

REGISTRY = Path("/run/fs3-hosts")   # <id>.json: the data directory whose cluster made these hosts
SUBNETS = ipaddress.ip_network("10.213.0.0/16")  # each cluster takes a free /24 of it
SHM_SIZE = "512m"                   # each host's /dev/shm


@dataclass
class Host:
    name: str            # h1, h2, ...
    netns: str           # fs3-<id>-h1
    address: str         # its address on the bridge
    veth: str            # the bridge side of its link
    shm: str             # the tmpfs bound over /dev/shm in its processes
    role: str = "storage"  # "storage": storage nodes run here; "client": for clients only


@dataclass
class Hosts:
    id: str
    bridge: str
    subnet: str
    gateway: str          # the bridge's address: meta servers listen here, reachable from every host
    hosts: list[Host] = field(default_factory=list)
    nic: str = ""         # tc rate of each host's link ("": unshaped)

    # -- making and removing ---------------------------------------------------------------------

    @classmethod
    def make(cls, data_dir: Path, storage_hosts: int, client_hosts: int = 1, nic: str = "", *,
             shape_clients: bool = True) -> Hosts:
        """A bridge and ``storage_hosts + client_hosts`` hosts on it (undone if any step fails);
        ``shape_clients``: client hosts' links are shaped to ``nic`` too (a benchmark of storage
        scaling leaves them free)."""
        need_tools()
        sweep_stale()
        ident = secrets.token_hex(3)
        subnet = _free_subnet()
        addrs = list(subnet.hosts())
        self = cls(ident, f"fs3b{ident}", str(subnet), str(addrs[0]), [], nic)
        REGISTRY.mkdir(parents=True, exist_ok=True)
        (REGISTRY / f"{ident}.json").write_text(json.dumps({"data_dir": str(data_dir)}))
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.gateway}/{subnet.prefixlen}", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            roles = ["storage"] * storage_hosts + ["client"] * client_hosts
            for k, role in enumerate(roles, start=1):
                shaped = role == "storage" or shape_clients
                self.hosts.append(self._make_host(data_dir, k, str(addrs[k]), subnet.prefixlen, role, shaped))
        except BaseException:
            self.remove()
            raise
        return self

    def _make_host(self, data_dir: Path, k: int, address: str, prefix: int, role: str, shaped: bool) -> Host:
        host = Host(f"h{k}", f"fs3-{self.id}-h{k}", address, f"f3{self.id}h{k}",
                    str(data_dir / "hosts" / f"h{k}" / "shm"), role)
        _ip("netns", "add", host.netns)
        _ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
        _ip("link", "set", host.veth, "master", self.bridge)
        _ip("link", "set", host.veth, "up")
        inside = ["ip", "netns", "exec", host.netns]
        _run(*inside, "ip", "link", "set", "lo", "up")
        _run(*inside, "ip", "addr", "add", f"{address}/{prefix}", "dev", "eth0")
        _run(*inside, "ip", "link", "set", "eth0", "up")
        _run(*inside, "ip", "route", "add", "default", "via", self.gateway)
        if self.nic and shaped:  # both ways: what the host sends (its eth0) and what it receives (the bridge side)
            shape = ["root", "tbf", "rate", self.nic, "burst", "256kb", "latency", "50ms"]
            _run(*inside, "tc", "qdisc", "add", "dev", "eth0", *shape)
            _run("tc", "qdisc", "add", "dev", host.veth, *shape)
        Path(host.shm).mkdir(parents=True, exist_ok=True)
        _run("mount", "-t", "tmpfs", "-o", f"size={SHM_SIZE},mode=1777", f"fs3-shm-{self.id}-h{k}", host.shm)
        return host

    def remove(self) -> None:
        """Remove every namespace, link, firewall rule and tmpfs of these hosts (what is gone is skipped)."""
        for host in self.hosts:
            subprocess.run(["umount", "-l", host.shm], capture_output=True)
            subprocess.run(["ip", "netns", "delete", host.netns], capture_output=True)
            subprocess.run(["ip", "link", "delete", host.veth], capture_output=True)
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)
        (REGISTRY / f"{self.id}.json").unlink(missing_ok=True)

    # -- using -----------------------------------------------------------------------------------

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if name in (h.name, h.address, h.netns):
                return h
        raise InvalidArgument(f"Invalid argument: no host {name!r} (hosts: "
                              f"{', '.join(h.name for h in self.hosts)})")

    def storage_hosts(self) -> list[Host]:
        return [h for h in self.hosts if h.role == "storage"]

    def command(self, name: str, argv: list[str]) -> list[str]:
        """``argv`` as run on host ``name``: in its network namespace, with its /dev/shm."""
        h = self.host(name)
        return ["ip", "netns", "exec", h.netns, "sh", "-c", 'mount --bind "$0" /dev/shm && exec "$@"', h.shm, *argv]

    def cut(self, name: str, source: str | None = None, *, inbound_only: bool = False) -> None:
        """Drop what host ``name`` receives from ``source`` (a host's name or address; None: from every
        other host and meta), and, unless ``inbound_only``, what it sends there: a partition, made by
        the host's own firewall. ``inbound_only`` makes it one-way: its replies still leave, but nothing
        that starts at ``source`` gets in."""
        h = self.host(name)
        peer = self.host(source).address if source else self.subnet
        inside = ["ip", "netns", "exec", h.netns, "iptables", "-w"]
        _run(*inside, "-I", "INPUT", "-s", peer, "-j", "DROP")
        if not inbound_only:
            _run(*inside, "-I", "OUTPUT", "-d", peer, "-j", "DROP")

    def heal(self, name: str) -> None:
        """Remove every rule ``cut`` made on host ``name``."""
        h = self.host(name)
        for chain in ("INPUT", "OUTPUT"):
            _run("ip", "netns", "exec", h.netns, "iptables", "-w", "-F", chain)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Hosts:
        return cls(d["id"], d["bridge"], d["subnet"], d["gateway"], [Host(**h) for h in d.get("hosts", [])],
                   d.get("nic", ""))


def need_tools() -> None:
    if os.geteuid() != 0:
        raise NotPermitted("Operation not permitted: hosts in network namespaces (--hosts) need root")
    missing = [t for t in ("ip", "tc", "iptables", "mount") if shutil.which(t) is None]
    if missing:
        raise FS3Error(f"--hosts needs {', '.join(missing)} (apt-get install iproute2 iptables)")


def sweep_stale() -> list[str]:
    """Remove hosts whose cluster no longer runs (its `fs3 up` or its machine's processes died); returns
    the ids removed."""
    from ._cluster import LocalCluster

    removed = []
    for entry in sorted(REGISTRY.glob("*.json")) if REGISTRY.is_dir() else []:
        try:
            data_dir = Path(json.loads(entry.read_text())["data_dir"])
            cluster = LocalCluster.load(data_dir)
            alive = bool(cluster.running())
            hosts = cluster.hosts
        except (OSError, ValueError, KeyError, FS3Error):
            alive, hosts = False, None
        if alive:
            continue
        ident = entry.stem
        if hosts is None or hosts.id != ident:  # (the cluster file is gone: rebuild the names)
            hosts = _named_only(ident)
        hosts.remove()
        removed.append(ident)
    return removed


def _named_only(ident: str) -> Hosts:
    """What a cluster with id ``ident`` made, from the names alone (its cluster file is gone)."""
    found = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    prefix = f"fs3-{ident}-"
    hosts = [Host(ns[len(prefix):], ns, "", f"f3{ident}{ns[len(prefix):]}", "") for ns in found if ns.startswith(prefix)]
    return Hosts(ident, f"fs3b{ident}", "", "", hosts)


def _free_subnet() -> ipaddress.IPv4Network:
    used = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    taken = {ipaddress.ip_interface(w).network for w in used.split() if "/" in w and w[0].isdigit()}
    for net in SUBNETS.subnets(new_prefix=24):
        if not any(net.overlaps(t) for t in taken):
            return net
    raise FS3Error(f"no free /24 left in {SUBNETS} for the hosts' bridge")


def _ip(*args: str) -> None:
    _run("ip", *args)


def _run(*argv: str) -> None:
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if proc.returncode != 0:
        raise FS3Error(f"{' '.join(argv)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
