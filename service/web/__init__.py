"""Web pages for students, TAs and instructors, served by the same FastAPI app as the API.

Server-rendered (Jinja2), one local stylesheet and one small script, SVG charts drawn on the
server; nothing is loaded from another site. The pages call the same service layer
(`service.core`) as the JSON routes, with the same authorisation rules; see docs/web.md.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from service.web import auth_pages, dashboard_pages, staff_pages, submission_pages
from service.web.code import stylesheet
from service.web.render import STATIC_DIR

ASSETS_PATH = "/assets"


def install(app: FastAPI) -> None:
    """Add the pages and their assets to `app`."""

    @app.get(f"{ASSETS_PATH}/code.css", include_in_schema=False)
    def code_css() -> Response:
        return Response(stylesheet(), media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    for module in (auth_pages, submission_pages, staff_pages, dashboard_pages):
        app.include_router(module.router)
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC_DIR), name="web-assets")
