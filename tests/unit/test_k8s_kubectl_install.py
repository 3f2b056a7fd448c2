"""tools/kubectl.py keeps a downloaded kubectl only when its sha256 is the expected one, and
leaves nothing behind otherwise. Served from a local file, as dl.k8s.io would serve it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tools import kubectl as installer

BINARY = b"#!/bin/sh\necho kubectl\n"


def served(tmp_path: Path) -> str:
    source = tmp_path / "served-kubectl"
    source.write_bytes(BINARY)
    return source.as_uri()


def test_a_binary_with_the_expected_sha256_is_installed_executable(tmp_path: Path) -> None:
    destination = tmp_path / "bin" / "kubectl"
    destination.parent.mkdir()
    installer.fetch_checked(served(tmp_path), hashlib.sha256(BINARY).hexdigest(), destination)
    assert destination.read_bytes() == BINARY
    assert os.access(destination, os.X_OK)


def test_a_binary_with_another_sha256_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    with pytest.raises(ValueError, match="sha256"):
        installer.fetch_checked(served(tmp_path), "0" * 64, bin_dir / "kubectl")
    assert list(bin_dir.iterdir()) == []


def test_the_binary_comes_from_the_official_distribution() -> None:
    url = installer.download_url(installer.VERSION, "linux", "amd64")
    assert url == f"https://dl.k8s.io/release/{installer.VERSION}/bin/linux/amd64/kubectl"


def test_an_installed_kubectl_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "kubectl").write_bytes(BINARY)
    assert installer.main(["kubectl.py", str(tmp_path)]) == 0
    assert (tmp_path / "kubectl").read_bytes() == BINARY
