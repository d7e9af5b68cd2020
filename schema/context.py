"""The typed context of one GraphQL operation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry
from starlette.requests import Request
from starlette.websockets import WebSocket

from models import GlobalSettings, Profile, User, access
from models.config import Settings
from models.db import Sessions
from schema.errors import unauthenticated
from schema.loaders import Loaders


@dataclass
class Context:
    request: Request | WebSocket
    response: Any
    sessions: Sessions
    settings: Settings
    loaders: Loaders
    # The live feed's reads (models.db.feed_engine).
    feed_sessions: Sessions
    user: User | None = None
    profile: Profile | None = None
    # The arq pool; sending and reminder runs enqueue through it.
    queue: Any = None
    # Status changes from every process (schema.feed.StatusFeed), for subscriptions.
    feed: Any = None
    # What a websocket client sent with connection_init.
    connection_params: dict[str, Any] | None = None

    def fresh_loaders(self) -> None:
        """New DataLoaders: a websocket keeps one context for many events, and data changes."""
        self.loaders = Loaders(self.sessions, self.settings.time_zone)

    def require_user(self) -> tuple[User, Profile]:
        if self.user is None or self.profile is None:
            raise unauthenticated()
        return self.user, self.profile

    def require_admin(self) -> tuple[User, Profile]:
        user, profile = self.require_user()
        access.require_admin(profile)
        return user, profile

    async def company(self) -> GlobalSettings:
        return await self.loaders.company()

    async def require_sms_enabled(self) -> GlobalSettings:
        company = await self.company()
        access.require_sms_enabled(company)
        return company

    async def require_reminders_enabled(self) -> GlobalSettings:
        company = await self.company()
        access.require_reminders_enabled(company)
        return company


Info = strawberry.Info[Context, None]
