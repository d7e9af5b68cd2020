"""The users the calendar's picker offers, and the Admin Console's profiles."""

from __future__ import annotations

import strawberry
from sqlmodel import select

from models import Profile as ProfileRow
from models import User as UserRow
from schema.context import Info
from schema.people import Profile, User
from schema.permissions import IsAuthenticated, coded_errors


@strawberry.type
class PeopleQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Everyone who can have appointments; the calendar's user picker.",
    )
    async def users(self, info: Info) -> list[User]:
        async with info.context.sessions() as session:
            rows = (await session.exec(select(UserRow).order_by(UserRow.name, UserRow.id))).all()
        info.context.loaders.prime(UserRow, rows)
        return [User.from_row(r) for r in rows]

    @strawberry.field(
        permission_classes=[IsAuthenticated], description="Global Administrator only."
    )
    @coded_errors
    async def profiles(self, info: Info) -> list[Profile]:
        info.context.require_admin()
        async with info.context.sessions() as session:
            rows = (
                await session.exec(select(ProfileRow).order_by(ProfileRow.name, ProfileRow.id))
            ).all()
        return [Profile.from_row(r) for r in rows]
