"""Builds the krew archive of `kubectl-gantry` byte for byte the same on every machine, so
that the sha256 in gantry.yaml can be checked against the sources.

Usage: python k8s/krew/archive.py OUT.tar.gz   (prints the archive's sha256)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = {"kubectl-gantry": 0o755, "LICENSE": 0o644}
LICENSE = b"Apache-2.0: the licence of Gantry (pyproject.toml).\n"


def archive() -> bytes:
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.PAX_FORMAT) as bundle:
        for name, mode in FILES.items():
            data = LICENSE if name == "LICENSE" else (HERE / name).read_bytes()
            member = tarfile.TarInfo(name)
            member.size, member.mode, member.mtime = len(data), mode, 0
            bundle.addfile(member, io.BytesIO(data))
    return gzip.compress(tar.getvalue(), mtime=0)


def main(out: str) -> None:
    data = archive()
    Path(out).write_bytes(data)
    print(hashlib.sha256(data).hexdigest())


if __name__ == "__main__":
    main(sys.argv[1])
