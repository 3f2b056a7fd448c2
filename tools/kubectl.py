"""Installs kubectl, which renders the Kubernetes manifests (`kubectl kustomize`) for the
deployment tests, into the virtual environment when it is not there yet.

Usage: python tools/kubectl.py [BIN_DIR]   (default: the directory of this Python, .venv/bin)

The binary comes from the official distribution (dl.k8s.io) and is kept only if its sha256
is the one published beside it there (or `KUBECTL_SHA256`, when set). Without a network it
says so and exits 0: the tests then render with a kubectl on PATH, or skip saying why.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

VERSION = "v1.32.4"
RELEASES = "https://dl.k8s.io/release"
ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
TIMEOUT_SECONDS = 60


def download_url(version: str, system: str, arch: str) -> str:
    return f"{RELEASES}/{version}/bin/{system}/{arch}/kubectl"


def published_sha256(binary_url: str) -> str:
    """The checksum the distribution publishes beside the binary (`<url>.sha256`)."""
    with urllib.request.urlopen(f"{binary_url}.sha256", timeout=TIMEOUT_SECONDS) as answer:
        return answer.read().decode().split()[0].strip().lower()


def fetch_checked(url: str, expected_sha256: str, destination: Path) -> None:
    """Downloads `url` beside `destination` and moves it there only if its sha256 matches."""
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False) as partial:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:
                while chunk := answer.read(1 << 20):
                    digest.update(chunk)
                    partial.write(chunk)
            if digest.hexdigest() != expected_sha256:
                raise ValueError(f"sha256 {digest.hexdigest()} of {url} is not {expected_sha256}")
            os.chmod(partial.name, 0o755)
            os.replace(partial.name, destination)
        finally:
            if os.path.exists(partial.name):
                os.unlink(partial.name)


def install(bin_dir: Path) -> Path:
    arch = ARCHITECTURES.get(platform.machine().lower())
    if arch is None:
        raise RuntimeError(f"no kubectl build for the architecture {platform.machine()}")
    url = download_url(VERSION, platform.system().lower(), arch)
    expected = os.environ.get("KUBECTL_SHA256") or published_sha256(url)
    destination = bin_dir / "kubectl"
    fetch_checked(url, expected.lower(), destination)
    return destination


def main(argv: list[str]) -> int:
    bin_dir = Path(argv[1]) if len(argv) > 1 else Path(sys.executable).parent
    if (bin_dir / "kubectl").exists():
        return 0
    try:
        installed = install(bin_dir)
    except (OSError, ValueError, RuntimeError) as error:
        fallback = shutil.which("kubectl")
        then = f"the tests use {fallback}" if fallback else "the tests that render the manifests are skipped"
        print(f"kubectl {VERSION} not installed ({error}); {then}", file=sys.stderr)
        return 0
    print(f"kubectl {VERSION} installed: {installed}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
