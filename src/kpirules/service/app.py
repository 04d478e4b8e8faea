"""The HTTP API under ``/v1`` and the web page at ``/``: ``create_app(settings)``.

Scoring runs in worker threads, each request within a time limit; request bodies and the
number of entities are capped (see :mod:`kpirules.service.settings` for the defaults).
The endpoints live in :mod:`kpirules.service.routes`, one module per area; the state they
share in :mod:`kpirules.service.state`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from kpirules import __version__
from kpirules.service.errors import install_handlers
from kpirules.service.middleware import BodyLimit, SecurityHeaders
from kpirules.service.routes import ledger, page, rulesets, scoring, template
from kpirules.service.routes.openapi import ERRORS, install_openapi
from kpirules.service.rows import read_rows
from kpirules.service.settings import Settings
from kpirules.service.state import Service


def create_app(settings: Settings) -> FastAPI:
    """The application: the API under ``/v1``, its OpenAPI document, and the page at ``/``."""
    # The reader of JSON rows is looked up here, when the application is built, so that a
    # replacement set on this module (a slow reader, to reach the time limit) is used.
    service = Service(settings, read_json_rows=read_rows)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(
        lifespan=lifespan,
        title="kpirules",
        version=__version__,
        description="绩效考核规则引擎的 HTTP 接口：列出规则集、检查规则集、计分、解释、记录与核查。",
        docs_url=None,
        redoc_url=None,
        responses=ERRORS,
    )
    app.state.service = service
    install_handlers(app)
    # Added to the application's own router, not included as routers of their own: an
    # included router costs every request a second round of route matching. In this order:
    # the order of the paths in the OpenAPI document.
    for area in (rulesets, scoring, ledger, template, page):
        area.add_routes(app.router)
    install_openapi(app)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app
