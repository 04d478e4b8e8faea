"""The web page for policy staff at ``/``, with its style sheet and script (not in the
OpenAPI document)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response


def _asset(name: str) -> bytes:
    return resources.files("kpirules.service").joinpath("page", name).read_bytes()


def add_routes(router: APIRouter) -> None:
    """Add the page and its two files, read once from the package, to ``router``."""

    def static(data: bytes, media: str) -> Callable[[], Awaitable[Response]]:
        async def serve() -> Response:
            return Response(data, media_type=media, headers={"Cache-Control": "no-cache"})

        return serve

    router.add_api_route(
        "/",
        static(_asset("index.html"), "text/html; charset=utf-8"),
        methods=["GET", "HEAD"],
        include_in_schema=False,
    )
    router.add_api_route(
        "/page.css", static(_asset("page.css"), "text/css; charset=utf-8"), include_in_schema=False
    )
    router.add_api_route(
        "/page.js",
        static(_asset("page.js"), "text/javascript; charset=utf-8"),
        include_in_schema=False,
    )
