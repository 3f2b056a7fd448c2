"""Generates the Python gRPC code of `protos/` into a package tree (default `generated/`).

Usage: python tools/protogen.py [OUTPUT_DIR]
"""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path

from google.rpc import status_pb2
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"


def proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.rglob("*.proto"))


def generate(output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    well_known = str(files("grpc_tools") / "_proto")
    # google/rpc/*.proto, beside the modules googleapis-common-protos generated from them.
    googleapis = str(Path(status_pb2.__file__).parents[2])
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"-I{googleapis}",
        f"--python_out={output}",
        f"--pyi_out={output}",
        f"--grpc_python_out={output}",
        *(str(path) for path in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for module in output.rglob("*_pb2.py"):
        for package in module.relative_to(output).parents[:-1]:
            (output / package / "__init__.py").touch()


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "generated")
