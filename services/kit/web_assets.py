"""Front-end files the platform serves itself, never from a CDN: the console's own, and the
vendored packages of `services/console/assets/package-lock.json` (htmx, uPlot, Swagger UI for
the gateway's `/docs`). Each is served under a path holding a digest of its content, so that
browsers keep it for a year and a new version is a new URL.

`python -m services.kit.web_assets` copies the vendored files out of `node_modules` (after
`npm ci`) into `vendor/`, which is all the processes serve of them."""

from __future__ import annotations

import hashlib
import mimetypes
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route

ASSETS_DIR = Path(__file__).resolve().parent.parent / "console" / "assets"
NODE_MODULES = ASSETS_DIR / "node_modules"
VENDOR_DIR = ASSETS_DIR / "vendor"

# The files served of each package, by the name they are served under; nothing else of
# node_modules leaves the build. axe-core, a development dependency, is the browser tests'.
VENDORED = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "uPlot.iife.min.js": "uplot/dist/uPlot.iife.min.js",
    "uPlot.min.css": "uplot/dist/uPlot.min.css",
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
}

IMMUTABLE = "public, max-age=31536000, immutable"
DIGEST_CHARS = 16

mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/css", ".css")


@dataclass(frozen=True)
class Asset:
    path: Path
    digest: str


class HashedFiles:
    """The files of some directories, read once at start, served at
    `<prefix>/<digest>/<name>`; `url(name)` is what pages link to. Each directory comes with
    the start of its files' names ("" or e.g. "vendor/")."""

    def __init__(self, prefix: str, directories: list[tuple[str, Path]]) -> None:
        self.prefix = prefix.rstrip("/")
        self.assets: dict[str, Asset] = {}
        for name_start, directory in directories:
            for path in sorted(directory.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    name = name_start + path.relative_to(directory).as_posix()
                    self.assets[name] = Asset(path, _digest(path))

    def url(self, name: str) -> str:
        """The versioned URL of a file; a KeyError for a file that is not there, so that a
        page naming a missing file fails as it renders rather than in the browser."""
        if name not in self.assets:
            raise KeyError(
                f"{name} is not among the files served at {self.prefix}; vendored ones come from `make setup`"
            )
        return f"{self.prefix}/{self.assets[name].digest}/{name}"

    def mount(self) -> Mount:
        return Mount(
            self.prefix, routes=[Route("/{digest}/{name:path}", self.serve, methods=["GET", "HEAD"])]
        )

    async def serve(self, request: Request) -> Response:
        asset = self.assets.get(request.path_params["name"])
        if asset is None:
            raise HTTPException(404, "no such file")
        # A page of an older or newer replica may ask for another digest: it gets today's
        # file, which no browser may keep as that version's.
        fresh = request.path_params["digest"] == asset.digest
        return FileResponse(
            asset.path,
            media_type=mimetypes.guess_type(asset.path.name)[0] or "application/octet-stream",
            headers={"Cache-Control": IMMUTABLE if fresh else "no-cache"},
        )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:DIGEST_CHARS]


def vendor(node_modules: Path = NODE_MODULES, target: Path = VENDOR_DIR) -> list[Path]:
    """Copies the vendored files out of node_modules into `target`, replacing what was there."""
    missing = [source for source in VENDORED.values() if not (node_modules / source).is_file()]
    if missing:
        raise SystemExit(f"not in {node_modules}: {', '.join(missing)}; run `npm ci` in {ASSETS_DIR}")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    return [Path(shutil.copy2(node_modules / source, target / name)) for name, source in VENDORED.items()]


if __name__ == "__main__":
    copied = vendor(*(Path(argument) for argument in sys.argv[1:3]))
    print(f"vendored {len(copied)} files into {copied[0].parent}")
