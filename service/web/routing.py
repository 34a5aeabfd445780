"""The pages' router: a route class that turns refusals into pages instead of JSON."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from service.errors import ServiceError
from service.web.render import error_page
from service.web.session import SignInRequired, sign_in_url


class WebRoute(APIRoute):
    """Same authorisation as the API (the core raises the same ServiceErrors), but a browser
    gets an HTML page: the sign-in page when signed out, an error page for a refusal. Requests
    that ask for JSON (the upload script, the status poll) get the API's JSON error bodies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                if "application/json" in request.headers.get("accept", ""):
                    return error_page(request, ServiceError(401, "unauthenticated", "sign in first"))
                return RedirectResponse(sign_in_url(request), status_code=303)
            except ServiceError as error:
                return error_page(request, error)
            except RequestValidationError:
                if request.method == "GET":
                    return error_page(request, ServiceError(404, "not_found", "there is no such page"))
                return error_page(request, ServiceError(422, "validation_error", "the form is missing a field"))

        return handle


def web_router() -> APIRouter:
    return APIRouter(route_class=WebRoute, include_in_schema=False)
