"""The stylesheet and script, shipped as package data, read once when the app is built and served with a cache
header. Their URLs carry a digest of the content, so a browser keeps a file for a year and still sees a new release
at once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from shared.errors import NotFound

STATIC_PATH = "/panel/static"
CONTENT_TYPES = {".css": "text/css", ".js": "text/javascript"}
VERSIONED_CACHE = "public, max-age=31536000, immutable"
UNVERSIONED_CACHE = "public, max-age=300"


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    digest: str


class StaticFiles:
    def __init__(self, files: dict[str, StaticFile]) -> None:
        self._files = files

    @classmethod
    def from_package(cls) -> StaticFiles:
        folder = resources.files("services.auth.web") / "static"
        files = {}
        for entry in folder.iterdir():
            suffix = "." + entry.name.rsplit(".", 1)[-1]
            if suffix in CONTENT_TYPES:
                body = entry.read_bytes()
                files[entry.name] = StaticFile(body, CONTENT_TYPES[suffix], hashlib.sha256(body).hexdigest()[:16])
        return cls(files)

    def url(self, name: str) -> str:
        return f"{STATIC_PATH}/{name}?v={self._files[name].digest}"

    def response(self, name: str, version: str | None) -> web.Response:
        found = self._files.get(name)
        if found is None:
            raise NotFound("No such file")
        headers = {
            "Cache-Control": VERSIONED_CACHE if version == found.digest else UNVERSIONED_CACHE,
            "ETag": f'"{found.digest}"',
            "X-Content-Type-Options": "nosniff",
        }
        return web.Response(body=found.body, content_type=found.content_type, charset="utf-8", headers=headers)
