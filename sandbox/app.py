"""Assemble the sandbox application: routes, error handlers, gateway, contract document."""

from __future__ import annotations

import random
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from sandbox import admin, api_v1
from sandbox.errors import ApiError, on_api_error, on_http_error, on_unexpected, on_validation_error
from sandbox.gateway import GatewayMiddleware
from sandbox.openapi import build_spec
from sandbox.seed import seed_customer
from sandbox.settings import SandboxSettings
from sandbox.state import SandboxState
from sandbox.store import Store


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: SandboxSettings | None = None) -> FastAPI:
    settings = settings or SandboxSettings()
    state = SandboxState(settings=settings, store=Store(settings.db_path))
    if state.store.resolve_token(settings.token) is None:
        seed_customer(
            state.store,
            settings.token,
            state.clock.now_us(),
            settings.seed == "demo",
            random.Random(settings.seed_random),
        )
    app = FastAPI(
        title="MxGuard sandbox",
        docs_url="/api/v1/docs",
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
        generate_unique_id_function=_operation_id,
        # a path with a trailing slash is no endpoint: a 404 in the contract's error shape, not a
        # 307 with an empty body pointing elsewhere
        redirect_slashes=False,
    )
    app.state.sandbox = state
    app.include_router(api_v1.router)
    app.include_router(admin.router)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)

    def route_of(scope: Scope) -> str:
        for route in api_v1.router.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL and isinstance(route, APIRoute):
                return route.path
        return "(no such endpoint)"

    def allowed_methods(scope: Scope) -> list[str]:
        """Every method of every route on this path (Starlette names only the first route's)."""
        methods: set[str] = set()
        for route in api_v1.router.routes:
            if isinstance(route, APIRoute) and route.path_regex.match(scope["path"]):
                methods |= route.methods or set()
        return sorted(methods)

    app.state.allowed_methods = allowed_methods
    app.add_middleware(GatewayMiddleware, state=state, route_of=route_of)
    spec: dict[str, Any] = build_spec(app)
    app.openapi = lambda: spec  # type: ignore[method-assign]
    return app
