"""Route templates (as Discord's OpenAPI spells them) and the handlers that answer them."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .recording import RecordedCall
from .world import World


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[World, RecordedCall], Awaitable[Reply]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    bot_auth: bool

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


class RouteTable:
    """Routes by method and template; `{name}` matches one path segment."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(
        self, method: str, template: str, *, bot_auth: bool = True
    ) -> Callable[[Handler], Handler]:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        pattern = re.compile(f"^{regex}$")

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, template, pattern, handler, bot_auth))
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The matching route with the fewest parameters (`/users/@me` beats `/users/{user_id}`)."""
        best: tuple[Route, dict[str, str]] | None = None
        for route in self.routes:
            found = route.pattern.match(path) if route.method == method else None
            if found and (best is None or len(found.groupdict()) < len(best[1])):
                best = (route, found.groupdict())
        return best

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.routes]


ROUTES = RouteTable()
