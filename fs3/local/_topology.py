"""The topology of a docker-compose file, for starting the same cluster as local processes
(`fs3 up --topology docker-compose.yml`): how many etcd members, meta servers and storage nodes, targets
per node, and the replicas the client asks for."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from fs3._errors import InvalidArgument


@dataclass
class Topology:
    etcd: list[str] = field(default_factory=list)
    meta: list[str] = field(default_factory=list)
    storage: list[str] = field(default_factory=list)
    targets_per_node: int = 1
    replicas: int = 0
    client: list[str] = field(default_factory=list)  # the client service's fs3 command line, if any

    def describe(self) -> str:
        return (f"{len(self.etcd)} etcd members, {len(self.meta)} meta servers, {len(self.storage)} storage "
                f"nodes x {self.targets_per_node} targets" + (f", chains of {self.replicas}" if self.replicas else ""))


def _command(service: dict) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _option(args: list[str], name: str) -> list[str]:
    out = []
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            out.append(args[i + 1])
        elif a.startswith(name + "="):
            out.append(a.split("=", 1)[1])
    return out


def load_topology(path: Path) -> Topology:
    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text())
    except OSError as e:
        raise InvalidArgument(f"cannot read {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise InvalidArgument(f"{path} is not valid YAML: {e}") from None
    services = (doc or {}).get("services") if isinstance(doc, dict) else None
    if not isinstance(services, dict) or not services:
        raise InvalidArgument(f"{path} has no services: not a docker-compose file")
    topo = Topology()
    targets = set()
    for name, svc in services.items():
        svc = svc or {}
        cmd, env = _command(svc), _env(svc)
        if "etcd" in str(svc.get("image", "")) or "etcd" in (cmd[:1] or [""])[0]:
            topo.etcd.append(name)
        elif cmd[:1] == ["meta"]:
            topo.meta.append(name)
        elif cmd[:1] == ["storage"]:
            topo.storage.append(name)
            n = len(_option(cmd, "--target")) or len(env.get("FS3_TARGETS", "").split())
            targets.add(max(1, n))
        elif cmd:
            topo.client = cmd
            replicas = _option(cmd, "--replicas")
            if replicas:
                topo.replicas = int(replicas[-1])
    if not topo.meta or not topo.storage:
        raise InvalidArgument(f"{path}: need at least one meta and one storage service "
                              f"(found {len(topo.meta)} meta, {len(topo.storage)} storage)")
    if len(targets) > 1:
        raise InvalidArgument(f"{path}: storage services have different numbers of targets {sorted(targets)}")
    topo.targets_per_node = targets.pop()
    if topo.replicas > len(topo.storage):
        raise InvalidArgument(f"{path}: chains of {topo.replicas} replicas need as many storage services")
    return topo
