"""Runs benchmarks: python -m bench [NAME ...]

Each benchmark is a module `bench/<name>.py` with `run() -> dict`; it prints readable
figures as it goes, and this runner ends each with one line of JSON holding them.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_"))


def main(names: list[str]) -> None:
    for name in names or available():
        if name not in available():
            raise SystemExit(f"no benchmark {name!r}; one of {', '.join(available())}")
        figures = importlib.import_module(f"bench.{name}").run()
        print(json.dumps({"bench": name, **figures}), flush=True)


if __name__ == "__main__":
    main([arg for arg in sys.argv[1:] if arg])
