"""The generated gRPC code is what the .proto files produce today."""

from __future__ import annotations

import filecmp
from pathlib import Path

from tools.protogen import ROOT, generate


def test_generated_code_matches_the_protos(tmp_path: Path) -> None:
    generate(tmp_path)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.py*"))
    current = sorted(p.relative_to(ROOT / "generated") for p in (ROOT / "generated").rglob("*.py*"))
    assert fresh == current, "generated/ is stale: run `make proto`"
    stale = [str(p) for p in fresh if not filecmp.cmp(tmp_path / p, ROOT / "generated" / p, shallow=False)]
    assert not stale, f"generated/ is stale ({stale}): run `make proto`"
