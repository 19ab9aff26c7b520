"""A whole fs3 cluster on one machine: one meta process and N storage processes, each storage node on
its own loopback address (127.0.0.2, 127.0.0.3, ...), all state under one data directory (mode 0700:
it holds secrets):

    DATA/cluster.json            what runs: meta addresses, processes, pids (read by `fs3` commands)
    DATA/admin.token             the root user's token (mode 0600): the starter's key to the cluster
    DATA/cluster.secret          the cluster secret (mode 0600), apart from the namespace: it signs node
                                 tokens and data-plane capabilities
    DATA/meta/meta.db            the namespace and cluster state (SQLite KV; or an etcd cluster)
    DATA/etcd-<i>/               with --etcd N: member i's data
    DATA/etcd/*.credentials      with --etcd N: etcd's root and fs3 users and their passwords (0600)
    DATA/storage-<i>/target-<j>  the targets of storage node i
    DATA/tls/                    with --tls: the cluster's CA and each server's certificate and key (0600)
    DATA/logs/*.log              each process's log
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fs3._auth import TOKEN_FILE, new_token, read_token_file, write_token_file
from fs3._discovery import CLUSTER_FILE, read_cluster_file, remember_cluster
from fs3._errors import AlreadyExists, InvalidArgument, NotFound, NotSupported, Unavailable
from fs3._layout import DEFAULT_CHUNK_SIZE, DEFAULT_STRIPE, valid_chunk_size
from fs3._retry import Deadline, poll
from fs3.proto import cluster_pb2

from ._hosts import Hosts
from ._ports import free_port, port_free

SECRET_FILE = "cluster.secret"  # in DATA: the cluster secret, apart from the namespace


@dataclass
class LocalClusterConfig:
    data_dir: Path
    storage_nodes: int = 3
    meta_servers: int = 1                 # stateless meta servers sharing the KV store
    kv: str = ""                          # KV store URL; default: SQLite under DATA/meta
    etcd_members: int = 0                 # > 0: start a local etcd cluster of this many members as the KV
    targets_per_node: int = 1
    replicas: int = 0                     # replicas per chain; 0: three, or fewer when fewer nodes
    chunk_size: int = DEFAULT_CHUNK_SIZE
    stripe: int = DEFAULT_STRIPE
    gc_delay: float = 10.0
    heartbeat_timeout: float = 6.0        # seconds of silence after which a storage node is offline
    meta_host: str = "127.0.0.1"
    storage_host_base: int = 2            # storage node i listens on 127.0.0.(base + i)
    direct_io: bool = True
    tls: bool = False                     # TLS everywhere, with a CA and certificates made under DATA/tls
    hosts: int = 0                        # > 0: storage nodes on this many hosts (network namespaces)
    client_hosts: int = 1                 # ... and this many hosts for clients alone (fs3/local/_hosts.py)
    nic: str = ""                         # with hosts: each host's link rate (tc, e.g. 1gbit; "": unshaped)
    unreachable_quorum: int = 0           # clients that must report a node unreachable (0: meta's default)
    shape_client_hosts: bool = True       # --nic shapes client hosts' links too
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.replicas:
            self.replicas = min(3, self.storage_nodes)

    def validate(self) -> None:
        if not 1 <= self.storage_nodes <= 200:
            raise InvalidArgument(f"Invalid argument: --nodes must be 1..200, not {self.storage_nodes}")
        if not 0 <= self.etcd_members <= 7:
            raise InvalidArgument(f"Invalid argument: --etcd must be 0..7 members, not {self.etcd_members}")
        if self.etcd_members and self.kv:
            raise InvalidArgument("Invalid argument: --etcd starts its own store; do not also pass --kv")
        if not 1 <= self.meta_servers <= 16:
            raise InvalidArgument(f"Invalid argument: --meta must be 1..16, not {self.meta_servers}")
        if not 1 <= self.targets_per_node <= 64:
            raise InvalidArgument(f"Invalid argument: --targets must be 1..64, not {self.targets_per_node}")
        if not 1 <= self.replicas <= self.storage_nodes:
            raise InvalidArgument(
                f"Invalid argument: --replicas {self.replicas} needs at least that many storage nodes "
                f"(have {self.storage_nodes})"
            )
        if not 0 <= self.hosts <= 64 or not 0 <= self.client_hosts <= 16:
            raise InvalidArgument("Invalid argument: --hosts must be 0..64 and --client-hosts 0..16")
        if self.nic and not re.fullmatch(r"\d+(\.\d+)?([kmgt]?bit|[kmgt]?bps)", self.nic):
            raise InvalidArgument(f"Invalid argument: --nic {self.nic!r} is not a rate (e.g. 1gbit, 200mbit, 50mbps)")
        if self.nic and not self.hosts:
            raise InvalidArgument("Invalid argument: --nic shapes the links of hosts: give --hosts too")
        if not valid_chunk_size(self.chunk_size):
            raise InvalidArgument(f"Invalid argument: chunk size {self.chunk_size} is not a power of two in 4K..64M")


@dataclass
class ProcessRecord:
    role: str          # "meta" or "storage"
    name: str          # meta-1, storage-1, ...
    pid: int
    address: str
    log: str
    args: list[str] = field(default_factory=list)  # the `fs3 ...` arguments it was started with
    host: str = ""     # the host (network namespace) it runs on ("": this machine's own)

    def alive(self) -> bool:
        return _is_fs3_process(self.pid)


def _is_fs3_process(pid: int) -> bool:
    """Whether ``pid`` is still one of ours (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state != "Z" and b"fs3" in cmdline


class LocalCluster:
    def __init__(self, data_dir: Path, processes: list[ProcessRecord] | None = None, meta: list[str] | None = None,
                 http: list[str] | None = None, kv: str = "", tls_ca: str = ""):
        self.data_dir = Path(data_dir).resolve()
        self.processes = processes or []
        self.meta = meta or []
        self.http = http or []  # each meta server's admin API / dashboard URL
        self.kv = kv            # the KV URL meta servers use (with etcd: its credentials file)
        self.tls_ca = tls_ca    # with TLS: the CA clients verify the servers with ("": TLS off)
        self.hosts: Hosts | None = None  # with --hosts: the namespaces the processes run in

    # -- discovery ---------------------------------------------------------------------------------

    @classmethod
    def load(cls, data_dir: Path) -> LocalCluster:
        info = read_cluster_file(data_dir)
        processes = [ProcessRecord(**p) for p in info.get("processes", [])]
        cluster = cls(data_dir, processes, info.get("meta", []), info.get("http", []), info.get("kv", ""),
                      (info.get("tls") or {}).get("ca", ""))
        if info.get("hosts"):
            cluster.hosts = Hosts.from_dict(info["hosts"])
        return cluster

    def running(self) -> list[ProcessRecord]:
        return [p for p in self.processes if p.alive()]

    def _save(self) -> None:
        info = {"format": 1, "data_dir": str(self.data_dir), "meta": self.meta, "http": self.http, "kv": self.kv,
                "processes": [asdict(p) for p in self.processes], "updated": time.time()}
        if self.tls_ca:  # what clients find the cluster by says TLS is on, and which CA (fs3/_tls.py)
            info["tls"] = {"ca": self.tls_ca}
        if self.hosts is not None:
            info["hosts"] = self.hosts.to_dict()
        tmp = self.data_dir / (CLUSTER_FILE + ".tmp")
        tmp.write_text(json.dumps(info, indent=2))
        os.replace(tmp, self.data_dir / CLUSTER_FILE)

    # -- start -------------------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        config: LocalClusterConfig,
        *,
        timeout: float = 60.0,
        progress: Callable[[str], None] | None = None,
        remember: bool = True,
    ) -> LocalCluster:
        """Start the processes, wait until every storage node has registered, create the chains.
        ``remember``: make it the cluster `fs3` commands use by default (not for throwaway clusters)."""
        config.validate()
        data = Path(config.data_dir).resolve()
        say = progress or (lambda _msg: None)
        previous: dict[str, str] = {}
        if (data / CLUSTER_FILE).exists():
            old = cls.load(data)
            if old.running():
                pids = ", ".join(str(p.pid) for p in old.running())
                raise AlreadyExists(f"a cluster is already running in {data} (pids {pids}); stop it with `fs3 down`")
            previous = {p.name: p.address for p in old.processes if p.address}
        _private_dir(data)
        (data / "logs").mkdir(parents=True, exist_ok=True)
        (data / "run").mkdir(exist_ok=True)
        cluster = cls(data)
        deadline = Deadline(timeout)  # for every step of the start together
        token_file = data / TOKEN_FILE
        if not token_file.exists():
            write_token_file(token_file, new_token())
        kv = config.kv or f"sqlite:///{data / 'meta' / 'meta.db'}"
        tls = _tls_args(data, config) if config.tls else None
        cluster.tls_ca = str(data / "tls" / "ca.pem") if config.tls else ""
        meta_host = config.meta_host
        try:
            if config.hosts:
                cluster.hosts = Hosts.make(data, config.hosts, config.client_hosts, config.nic,
                                           shape_clients=config.shape_client_hosts)
                meta_host = cluster.hosts.gateway  # on the bridge: every host reaches it
                say(f"{len(cluster.hosts.hosts)} hosts on bridge {cluster.hosts.bridge} ({cluster.hosts.subnet})")
                cluster._save()  # (so that `fs3 down` finds them whatever happens next)
            if config.etcd_members:
                kv = cluster._start_etcd(config, deadline, say)
            cluster.kv = kv
            names = [f"meta-{k}" for k in range(1, config.meta_servers + 1)]
            listens = [_listen(meta_host, previous.get(name)) for name in names]
            peers = [arg for address in listens for arg in ("--peer", address)]
            metas = []
            for name, listen in zip(names, listens, strict=True):
                say(f"starting {name}")
                metas.append(cluster._spawn(config, "meta", name, [
                    "meta", "--kv", kv, "--listen", listen, *peers,
                    "--admin-token-file", str(token_file), "--secret-file", str(data / SECRET_FILE),
                    "--chunk-size", str(config.chunk_size),
                    "--stripe", str(config.stripe), "--gc-delay", str(config.gc_delay),
                    "--heartbeat-timeout", str(config.heartbeat_timeout),
                    *(["--unreachable-quorum", str(config.unreachable_quorum)] if config.unreachable_quorum else []),
                    "--http", f"{meta_host}:0", "--http-addr-file", str(data / "run" / f"{name}.http"),
                    *(tls(name, [meta_host, "localhost"]) if tls else []),
                ]))
                if len(metas) == 1:  # the first one creates the namespace; the others join it
                    cluster._await_address(metas[0], deadline)
            for meta in metas:
                cluster._await_address(meta, deadline)
                say(f"{meta.name} serving on {meta.address}")
            cluster.meta = [m.address for m in metas]
            cluster.http = [cluster._await_file(data / "run" / f"{m.name}.http", deadline) for m in metas]
            cluster._save()
            storage = []
            for i in range(1, config.storage_nodes + 1):
                targets = []
                for j in range(1, config.targets_per_node + 1):
                    targets += ["--target", str(data / f"storage-{i}" / f"target-{j}")]
                on = ""
                if cluster.hosts is not None:  # round robin over the storage hosts
                    placed = cluster.hosts.storage_hosts()[(i - 1) % len(cluster.hosts.storage_hosts())]
                    host, on = placed.address, placed.name
                else:
                    host = f"127.0.0.{config.storage_host_base + i - 1}"
                if on:  # its own namespace: the port it had is free there, or the node picks one
                    old = previous.get(f"storage-{i}", "")
                    listen = old if old.rpartition(":")[0] == host else f"{host}:0"
                else:
                    listen = _listen(host, previous.get(f"storage-{i}"))
                meta_args = [arg for m in metas for arg in ("--meta", m.address)]
                args = ["storage", *meta_args, "--listen", listen, "--token-file", str(token_file), *targets]
                if not config.direct_io:
                    args.append("--no-direct-io")
                if tls:
                    args += tls(f"storage-{i}", [host])
                storage.append(cluster._spawn(config, "storage", f"storage-{i}", args, host=on))
            for proc in storage:
                cluster._await_address(proc, deadline)
                say(f"{proc.name} serving on {proc.address}")
            cluster._save()
            cluster._create_chains(config, deadline)
            say(f"chains created (replicas {config.replicas})")
        except BaseException:
            cluster.stop()
            raise
        if remember:
            remember_cluster(data, cluster.meta)
        return cluster

    def _start_etcd(self, config: LocalClusterConfig, deadline: Deadline, say) -> str:
        """Start (or restart, keeping its data) a local etcd cluster; returns its KV URL."""
        from . import _etcd, _etcd_auth

        plan_file = self.data_dir / "etcd.json"
        fresh = not plan_file.exists()
        if fresh:
            plan = _etcd.member_plan(config.etcd_members, f"fs3-{os.urandom(4).hex()}")
            plan_file.write_text(json.dumps(plan))
        plan = json.loads(plan_file.read_text())
        members = []
        for i, m in enumerate(plan):
            args = _etcd.member_args(plan, i, str(self.data_dir / f"etcd-{i + 1}"))
            if not fresh:
                args[args.index("--initial-cluster-state") + 1] = "existing"
            record = ProcessRecord("etcd", m["name"], 0, f"{m['host']}:{m['client']}",
                                   str(self.data_dir / "logs" / f"{m['name']}.log"), args)
            self._launch(record, config.extra_env)
            self.processes.append(record)
            members.append(record)
        for record in members:
            self._await_address(record, deadline)
            say(f"{record.name} serving on {record.address}")
        endpoints = [r.address for r in members]
        root_file, fs3_file = self.data_dir / "etcd" / "root.credentials", self.data_dir / "etcd" / "fs3.credentials"
        _etcd_auth.enable_auth(endpoints, root_file, fs3_file, timeout=max(1.0, deadline.remaining))
        say(f"etcd authentication on: meta connects as {_etcd_auth.FS3_USER} ({fs3_file})")
        return "etcd://" + ",".join(endpoints) + "?credentials=" + urllib.parse.quote(str(fs3_file))

    def _await_file(self, path: Path, deadline: Deadline) -> str:
        return poll(lambda: path.read_text().strip() if path.exists() else None, deadline,
                    error=f"{path.name} was not written in time; see the meta server's log")

    def _spawn(self, config: LocalClusterConfig, role: str, name: str, args: list[str], *,
               host: str = "") -> ProcessRecord:
        record = ProcessRecord(role, name, 0, "", str(self.data_dir / "logs" / f"{name}.log"), args, host)
        self._launch(record, config.extra_env)
        self.processes.append(record)
        return record

    def _launch(self, record: ProcessRecord, extra_env: dict[str, str] | None = None) -> None:
        addr_file = self.data_dir / "run" / f"{record.name}.addr"
        addr_file.unlink(missing_ok=True)
        env = dict(os.environ, **(extra_env or {}))
        env.setdefault("PYTHONUNBUFFERED", "1")
        if record.role == "etcd":
            command = record.args
        else:
            command = [sys.executable, "-m", "fs3", *record.args, "--addr-file", str(addr_file)]
        if record.host and self.hosts is not None:
            command = self.hosts.command(record.host, command)
        with open(record.log, "ab") as log:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, cwd=self.data_dir,
            )
        record.pid = proc.pid
        if record.role != "etcd":
            record.address = ""  # learnt from the address file
        record._popen = proc  # type: ignore[attr-defined] - reaped by _await_address / stop

    def process(self, name: str) -> ProcessRecord:
        for p in self.processes:
            if p.name == name:
                return p
        raise KeyError(f"no process named {name!r} in this cluster")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to one process (fault injection: SIGKILL, SIGSTOP, SIGCONT...)."""
        p = self.process(name)
        os.kill(p.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            while p.alive():
                _reap(p)
                time.sleep(0.01)

    def stop_one(self, name: str, timeout: float = 15.0) -> bool:
        """Stop one process as ``stop`` stops them all (SIGTERM, SIGKILL after ``timeout``); False when it
        was not running. It stays in the cluster's record, to be started again with ``restart``."""
        p = self.process(name)
        if not p.alive():
            return False
        try:
            os.kill(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        deadline = Deadline(timeout)
        while p.alive() and not deadline.expired:
            _reap(p)
            time.sleep(0.02)
        if p.alive():
            self.kill(name, signal.SIGKILL)
        self._save()
        return True

    def restart(self, name: str, timeout: float = 60.0) -> ProcessRecord:
        """Start a stopped (or killed) process again with its original arguments."""
        p = self.process(name)
        if p.alive():
            raise AlreadyExists(f"{name} is still running (pid {p.pid})")
        self._launch(p)
        self._await_address(p, Deadline(timeout))
        self._save()
        return p

    def add_storage_node(self, targets: int = 1, timeout: float = 60.0) -> ProcessRecord:
        """Start one more storage node (storage-N+1, ``targets`` new targets), as `fs3 up` starts them: it
        registers with meta and its targets are free until `fs3 cluster grow` gives them chains."""
        if not 1 <= targets <= 64:
            raise InvalidArgument(f"Invalid argument: --targets must be 1..64, not {targets}")
        storage = [p for p in self.processes if p.role == "storage"]
        if not storage:
            raise NotFound(f"the cluster at {self.data_dir} has no storage node to model a new one on")
        numbers = [int(p.name.rsplit("-", 1)[1]) for p in storage]
        number = max(numbers) + 1
        first = min(storage, key=lambda p: int(p.name.rsplit("-", 1)[1]))
        args, keep = [], iter(first.args)
        for arg in keep:  # the first node's arguments, less its targets and its address
            if arg in ("--target", "--listen"):
                next(keep, None)
            else:
                args.append(arg)
        on = ""
        if first.host and self.hosts is not None:
            hosts = self.hosts.storage_hosts()
            placed = hosts[(number - 1) % len(hosts)]
            host, on, listen = placed.address, placed.name, f"{placed.address}:0"
        else:
            first_ip = first.address.rpartition(":")[0]
            base = int(first_ip.rsplit(".", 1)[1]) - min(numbers) + 1
            host = f"127.0.0.{base + number - 1}"
            listen = _listen(host, None)
        name = f"storage-{number}"
        dirs = [arg for j in range(1, targets + 1) for arg in ("--target", str(self.data_dir / name / f"target-{j}"))]
        record = ProcessRecord("storage", name, 0, "", str(self.data_dir / "logs" / f"{name}.log"),
                               ["storage", *args[1:], "--listen", listen, *dirs], on)
        if self.tls_ca:
            raise NotSupported("adding a node to a local cluster with TLS is not supported yet: its "
                               "certificate would be made for the first node's address")
        self._launch(record)
        self.processes.append(record)
        self._save()
        self._await_address(record, Deadline(timeout))
        self._save()
        return record

    def _await_address(self, record: ProcessRecord, deadline: Deadline) -> None:
        addr_file = self.data_dir / "run" / f"{record.name}.addr"
        proc: subprocess.Popen = record._popen  # type: ignore[attr-defined]

        def serving() -> bool:
            if record.role == "etcd":
                from ._etcd import healthy

                if healthy(record.address):
                    return True
            elif addr_file.exists():
                record.address = addr_file.read_text().strip()
                return True
            if proc.poll() is not None:
                raise Unavailable(f"{record.name} exited with status {proc.returncode} during start-up:\n"
                                  + _tail(Path(record.log)))
            return False

        poll(serving, deadline, error=lambda: Unavailable(
            f"{record.name} did not start in time; see {record.log}:\n" + _tail(Path(record.log))))

    def _create_chains(self, config: LocalClusterConfig, deadline: Deadline) -> None:
        from fs3.client import connect  # the cluster tooling stands on the client

        with connect(self.meta[0], token=read_token_file(self.data_dir / TOKEN_FILE), tls_ca=self.tls_ca or None) as client:
            up: list = []

            def registered() -> bool:
                routing = client.routing_info()
                up[:] = [n for n in routing.nodes if n.state == cluster_pb2.NODE_UP
                         and any(p.address == n.address for p in self.processes)]
                return len(up) >= config.storage_nodes

            poll(registered, deadline, error=lambda: Unavailable(
                f"only {len(up)} of {config.storage_nodes} storage nodes registered in time"))
            client.create_chains(config.replicas)
            # Ready when every storage node has learnt its chains (it then reports its targets up to
            # date): a write sent earlier would meet a node that does not know its chain yet.

            def up_to_date() -> bool:
                targets = client.routing_info().targets
                chained = [t for t in targets if t.chain_id]  # (a target left over in no chain says online)
                return bool(chained) and all(t.local_state == cluster_pb2.UPTODATE for t in chained)

            poll(up_to_date, deadline, error="the storage nodes did not pick up their chains in time")

    # -- stop --------------------------------------------------------------------------------------

    def adopt_recorded(self) -> None:
        """Take in the processes the cluster file records that this object does not know: nodes added or
        restarted by `fs3 node add|start|restart` in another process. Without this, stopping (and
        saving) a cluster object made before them would leave them running and forget them."""
        try:
            recorded = [ProcessRecord(**p) for p in read_cluster_file(self.data_dir).get("processes", [])]
        except (OSError, ValueError, TypeError):
            return
        mine = {p.name: i for i, p in enumerate(self.processes)}
        for r in recorded:
            i = mine.get(r.name)
            if i is None:
                self.processes.append(r)
            elif self.processes[i].pid != r.pid and r.alive() and not self.processes[i].alive():
                self.processes[i] = r  # restarted elsewhere: the live one is the one to stop

    def stop(self, timeout: float = 15.0) -> list[ProcessRecord]:
        """SIGTERM every process (storage first, then meta, etcd last), SIGKILL what is left after
        ``timeout``; those other commands started for this cluster too (``adopt_recorded``)."""
        self.adopt_recorded()
        rank = {"storage": 0, "meta": 1, "etcd": 2}
        order = sorted(self.processes, key=lambda p: rank.get(p.role, 0))
        stopped = []
        for p in order:
            if p.alive():
                try:
                    os.kill(p.pid, signal.SIGTERM)
                    stopped.append(p)
                except ProcessLookupError:
                    pass
        deadline = Deadline(timeout)
        for p in stopped:
            while p.alive() and not deadline.expired:
                _reap(p)
                time.sleep(0.02)
            if p.alive():
                os.kill(p.pid, signal.SIGKILL)
        for p in self.processes:
            _reap(p)
        if self.hosts is not None:  # the hosts go with the cluster
            self.hosts.remove()
            self.hosts = None
        if (self.data_dir / CLUSTER_FILE).exists():
            self._save()
        return stopped


def _private_dir(path: Path) -> None:
    """Make the data directory, or narrow an existing one, to its owner alone (0700): it holds the
    admin token, the namespace and etcd's passwords."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o700)


def _tls_args(data: Path, config: LocalClusterConfig) -> Callable[[str, list[str]], list[str]]:
    """The TLS flags of each server: a certificate for its hosts, signed by the cluster's CA (made
    once, kept across restarts; fs3/local/_certs.py)."""
    from ._certs import ensure_ca, ensure_server_cert

    ca, _ = ensure_ca(data / "tls")

    def args(name: str, hosts: list[str]) -> list[str]:
        cert, key = ensure_server_cert(data / "tls", name, hosts)
        return ["--tls-cert", str(cert), "--tls-key", str(key), "--tls-ca", str(ca)]

    return args


def _listen(host: str, previous: str | None) -> str:
    """HOST:PORT to listen on: the port used last time when it is still free (so addresses stay the same
    across restarts and clients keep working), else a free one outside the ephemeral range (_ports.py)."""
    if previous:
        old_host, _, port = previous.rpartition(":")
        if old_host == host and port_free(host, int(port)):
            return previous
    return f"{host}:{free_port(host)}"


def _reap(p: ProcessRecord) -> None:
    popen = getattr(p, "_popen", None)
    if popen is not None:
        popen.poll()
    else:
        try:
            os.waitpid(p.pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
