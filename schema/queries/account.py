"""Who is signed in, and the company's settings."""

from __future__ import annotations

import strawberry

from schema.context import Info
from schema.people import Settings, User
from schema.permissions import IsAuthenticated


@strawberry.type
class AccountQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    def me(self, info: Info) -> User:
        user, _ = info.context.require_user()
        return User.from_row(user)

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def settings(self, info: Info) -> Settings:
        return Settings.from_row(await info.context.company())
