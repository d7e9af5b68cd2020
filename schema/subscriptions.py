"""Live message updates over graphql-transport-ws, from whichever process made the change.

A subscriber decides from each event's facts whether it wants it (models.access.may_see_event),
and reads the database only for the events it passes on; events published without facts are
looked up first.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from models import Profile, User
from models import SmsMessage as SmsMessageRow
from models.access import may_see_event, require_show_sms_errors
from models.enums import SmsStatus
from models.status_feed import MessageFacts, StatusEvent, message_facts
from schema.context import Info
from schema.feed import Heard
from schema.ids import optional_row_id
from schema.messages import SmsMessage
from schema.permissions import IsAuthenticated, coded_errors


async def message_event(
    info: Info, heard: Heard[StatusEvent]
) -> tuple[SmsMessage, MessageFacts] | None:
    """The message with the status it changed to, and its facts (looked up when the event came
    without them, from an older publisher); read once per process for all its subscribers."""
    info.context.fresh_loaders()
    found = await info.context.feed.shared.get(heard, read_event, info, heard.event)
    return None if found is None else (SmsMessage.from_row(found[0]), found[1])


async def read_event(info: Info, event: StatusEvent) -> tuple[SmsMessageRow, MessageFacts] | None:
    async with info.context.sessions() as session:
        row = await session.get(SmsMessageRow, event.message_id)
        if row is None:
            return None
        facts = event.facts or (await message_facts(session, [row.id]))[row.id]
    # The row may have moved on before this event was read; each push shows its own change.
    # Set after the session closed, so nothing is flushed.
    row.status = event.status
    return row, facts


def wants(user: User, profile: Profile, wanted: int | None, facts: MessageFacts) -> bool:
    """Whether a smsStatusChanged subscriber wants the event, from its facts alone."""
    if wanted is not None:
        return wanted in facts.appointment_ids
    return may_see_event(user, profile, facts)


@coded_errors
async def appointment_wanted(appointment_id: strawberry.ID | None) -> int | None:
    return optional_row_id(appointment_id, "appointmentId")


@coded_errors
async def failures_allowed(info: Info) -> None:
    _, profile = info.context.require_user()
    await info.context.require_sms_enabled()
    require_show_sms_errors(profile)


@strawberry.type
class StatusSubscription:
    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="Each SMS that fails to send, as it fails; users with Show SMS Errors only.",
    )
    async def sms_failures(self, info: Info) -> AsyncGenerator[SmsMessage, None]:
        user, _ = info.context.require_user()
        await failures_allowed(info)
        async for heard in info.context.feed.events(user.id):
            if heard.event.status is not SmsStatus.FAILED:
                continue
            found = await message_event(info, heard)
            if found is not None:
                yield found[0]

    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="Status changes of messages, optionally of one appointment.",
    )
    async def sms_status_changed(
        self, info: Info, appointment_id: strawberry.ID | None = None
    ) -> AsyncGenerator[SmsMessage, None]:
        user, profile = info.context.require_user()
        await coded_errors(info.context.require_sms_enabled)()
        wanted = await appointment_wanted(appointment_id)
        async for heard in info.context.feed.events(user.id):
            facts = heard.event.facts
            if facts is not None and not wants(user, profile, wanted, facts):
                continue
            found = await message_event(info, heard)
            if found is not None and wants(user, profile, wanted, found[1]):
                yield found[0]
