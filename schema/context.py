"""The typed context of one GraphQL operation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry
from starlette.requests import Request
from starlette.websockets import WebSocket

from models import GlobalSettings, Profile, User
from models.config import Settings
from models.db import Sessions
from models.errors import DomainError, ErrorCode
from schema.errors import unauthenticated
from schema.loaders import Loaders


@dataclass
class Context:
    request: Request | WebSocket
    response: Any
    sessions: Sessions
    settings: Settings
    loaders: Loaders
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

    async def company(self) -> GlobalSettings:
        return await self.loaders.company()

    async def require_sms_enabled(self) -> GlobalSettings:
        company = await self.company()
        if not company.sms_enabled:
            raise DomainError(ErrorCode.SMS_DISABLED, "SMS is turned off for this company.")
        return company

    async def require_reminders_enabled(self) -> GlobalSettings:
        company = await self.require_sms_enabled()
        if not company.sms_reminders_enabled:
            raise DomainError(
                ErrorCode.REMINDERS_DISABLED,
                "SMS appointment reminders are turned off for this company.",
            )
        return company


Info = strawberry.Info[Context, None]
