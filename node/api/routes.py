"""A route: its declaration (`RouteDoc`, which /openapi.json documents), the handler
that answers it, and the pattern its path template matches. The API's own route
modules and the node services hand `ApiApp.add_routes` tables of (RouteDoc, handler)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from node.api.http import Request, Response
from node.api.openapi import RouteDoc

RouteHandler = Callable[[Request, dict[str, str]], Awaitable[Response]]
"""Answers a request, given the path's parameters by name; raises ApiError to refuse."""


@dataclass(frozen=True)
class Route:
    doc: RouteDoc
    handler: RouteHandler
    pattern: re.Pattern[str]


def compile_path(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")
