#!/usr/bin/env python3
"""Regenerate fs3/proto/*_pb2*.py from fs3/proto/*.proto with grpcio-tools.

    python scripts/gen_proto.py            # rewrite the generated modules in place
    python scripts/gen_proto.py --out DIR  # write them under DIR instead (the staleness test uses this)

Run from anywhere; paths are relative to the repository root. The generated modules import each other as
`fs3.proto.<name>_pb2`, because protoc runs with the repository root as its include path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "fs3" / "proto"


def generate(out: Path) -> list[Path]:
    from grpc_tools import protoc  # imported here: only developers need grpcio-tools

    protos = sorted(PROTO_DIR.glob("*.proto"))
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{ROOT}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *(str(p.relative_to(ROOT)) for p in protos),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted((out / "fs3" / "proto").glob("*_pb2*.py*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write generated code under this directory")
    args = parser.parse_args()
    if args.out:
        generate(args.out)
        return
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for path in generate(Path(tmp)):
            target = PROTO_DIR / path.name
            target.write_bytes(path.read_bytes())
            print(f"wrote {target.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
