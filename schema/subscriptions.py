"""Live message updates over graphql-transport-ws, from whichever process made the change.

The feed hands a subscription only the events its Interest takes from their facts (its
appointment's, the failures, or what models.access.may_see_event lets the user see), and the
database is read once per process for each event handed on; events published without facts
reach every subscription, which looks the message up first and decides from what it read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import strawberry
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Profile, User
from models import SmsMessage as SmsMessageRow
from models.access import may_see_event, require_show_sms_errors
from models.db import Sessions, read_retried
from models.enums import SmsStatus
from models.status_feed import MessageFacts, StatusEvent, linked_appointments
from schema.context import Info
from schema.feed import Heard, Interest
from schema.ids import optional_row_id
from schema.messages import SmsMessage
from schema.permissions import IsAuthenticated, coded_errors


async def pushes(
    info: Info,
    bursts: AsyncIterator[list[Heard[StatusEvent]]],
    keep: Callable[[StatusEvent, MessageFacts], bool],
) -> AsyncGenerator[SmsMessage, None]:
    """The message of each event heard that `keep` keeps, with the status it changed to, in
    the order heard. The reads of every event waiting start together (StatusFeed.read puts
    them in one statement) and each is read once per process for all its subscribers."""
    shared = info.context.feed.shared
    async with contextlib.aclosing(bursts):
        async for burst in bursts:
            reads = [shared.start(heard, read_event, info, heard.event) for heard in burst]
            for heard, read in zip(burst, reads, strict=True):
                # Shielded: this subscription going away must not cancel the others' read.
                found = await asyncio.shield(read)
                if found is None or not keep(heard.event, found[1]):
                    continue
                info.context.fresh_loaders()
                yield found[0]


async def read_event(info: Info, event: StatusEvent) -> tuple[SmsMessage, MessageFacts] | None:
    """The message as pushed for the event, shared by every subscriber of this process, and
    its facts."""
    sessions = info.context.feed_sessions
    row = await info.context.feed.read(read_messages, event.message_id, sessions)
    if row is None:
        return None
    message = SmsMessage.from_row(row)
    # The row may have moved on since; each push shows its own change.
    message.status = event.status
    message.shared_answers = {}
    if event.facts is not None:
        return message, event.facts
    linked = await read_retried(sessions, lambda session: linked_appointments(session, [row.id]))
    return message, MessageFacts.of(row, linked.get(row.id, ()))


async def read_messages(ids: list[int], sessions: Sessions) -> dict[int, SmsMessageRow]:
    """The messages of many events at once (StatusFeed.read), as they are now."""

    async def read(session: AsyncSession) -> dict[int, SmsMessageRow]:
        rows = await session.execute(select(SmsMessageRow).where(col(SmsMessageRow.id).in_(ids)))
        return {row.id: row for row in rows.scalars()}

    return await read_retried(sessions, read)


def wants(user: User, profile: Profile, wanted: int | None, facts: MessageFacts) -> bool:
    """Whether a smsStatusChanged subscriber wants the event, from its facts alone."""
    if wanted is not None:
        return wanted in facts.appointment_ids
    return may_see_event(user, profile, facts)


def interest(user: User, profile: Profile, wanted: int | None) -> Interest:
    """`wants` as the feed applies it: the followers of an appointment found by its id."""
    if wanted is not None:
        return Interest(appointment_id=wanted)
    return Interest(accepts=lambda event: wants(user, profile, None, event.facts))


def failed(event: StatusEvent) -> bool:
    return event.status is SmsStatus.FAILED


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
        bursts = info.context.feed.events(user.id, Interest(accepts=failed))
        # An event without facts reaches every subscription: `keep` has the last word.
        async for message in pushes(info, bursts, lambda event, _: failed(event)):
            yield message

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
        bursts = info.context.feed.events(user.id, interest(user, profile, wanted))
        async for message in pushes(
            info, bursts, lambda _, facts: wants(user, profile, wanted, facts)
        ):
            yield message
