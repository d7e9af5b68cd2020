"""Messages handed to the provider with no answer back: asked about, then settled, resent or failed.

A worker that dies after its request went out leaves the message SENDING, and a blind resend
could send it twice. So the provider's own list is asked, once the request can no longer be on
its way: there, the message is settled as the list says; not there, it never arrived, and it is
made claimable again (the claim in the database still decides who sends it). Only when the
provider cannot be asked is the message failed, "outcome unknown", after UNSETTLED_AFTER.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from jobs.providers import CannotAsk, CannotList, Provider, ProviderMessage
from jobs.send import settle
from models.enums import SmsStatus
from models.errors import ErrorCode
from models.provider_errors import reason_for
from models.sms import SmsMessage

log = logging.getLogger("timetrak_sms.sweep")

UNKNOWN_OUTCOME = (
    "The SMS provider never confirmed this message; whether it reached the phone is unknown."
)
# The provider's dates are to the second, and its clock is not quite ours.
CLOCK_SLACK = timedelta(seconds=5)
ASKS_AT_ONCE = 8
MOST_PER_SWEEP = 500


async def settle_unanswered(
    ctx: dict[str, Any], now: datetime, ask_after: timedelta, give_up_after: timedelta
) -> tuple[Counter[str], list[int]]:
    """{"settled": n, "resent": n, "failed": n} for the messages it moved on, and the ids of
    those to send again (claimable now; the caller enqueues them)."""
    async with ctx["sessions"]() as session:
        rows = (
            await session.exec(
                select(
                    SmsMessage.id, SmsMessage.to_number, SmsMessage.body, SmsMessage.send_started_at
                )
                .where(
                    SmsMessage.status == SmsStatus.SENDING,
                    col(SmsMessage.retry_at).is_(None),
                    col(SmsMessage.send_started_at) < now - min(ask_after, give_up_after),
                )
                .order_by(col(SmsMessage.send_started_at))
                .limit(MOST_PER_SWEEP)
            )
        ).all()
    if not rows:
        return Counter(), []
    asking = Asking(ctx.get("provider"))
    lists = await asyncio.gather(
        *(asking.ask(row) if now - row.send_started_at >= ask_after else none() for row in rows)
    )
    if asking.refusal is not None:
        log.info("could not ask the SMS provider about unanswered messages: %s", asking.refusal)
    done: Counter[str] = Counter()
    found_ids: list[int] = []
    again: list[int] = []
    taken = await known_ids(ctx, [m.provider_message_id for found in lists if found for m in found])
    for row, found in zip(rows, lists, strict=True):
        if found is not None:
            match = ours(row, found, taken)
            if match is None:
                if await resend(ctx, row, now):
                    again.append(row.id)
            elif await record(ctx, row, match):
                taken.add(match.provider_message_id)
                found_ids.append(row.id)
        elif asking.cannot_tell(row) and now - row.send_started_at >= give_up_after:
            done["failed"] += await settle(
                ctx,
                row.id,
                SmsStatus.FAILED,
                only_from=[SmsStatus.SENDING],
                conditions=same_claim(row),
                error_code=ErrorCode.PROVIDER_ERROR.value,
                error_message=UNKNOWN_OUTCOME,
            )
    if found_ids:
        log.info(
            "found at the provider and settled %d messages: %s", len(found_ids), listing(found_ids)
        )
    if again:
        log.warning(
            "never reached the provider, sending %d messages again: %s", len(again), listing(again)
        )
    done["settled"] = len(found_ids)
    done["resent"] = len(again)
    return done, again


class Asking:
    """The provider's lists for one sweep, a few at a time; after one refusal, no more asks.

    A list the provider cannot give for one number (too long to read) leaves only that
    number's messages unasked, and is not asked for again in the sweep; the others are asked
    about all the same.
    """

    def __init__(self, provider: Provider | None):
        self.provider = provider
        self.refusal: str | None = None if provider is not None else "no provider to ask"
        self.unlisted: set[str] = set()
        self.at_once = asyncio.Semaphore(ASKS_AT_ONCE)

    def cannot_tell(self, row) -> bool:
        """Whether the provider could not be asked about this message: the 15-minute rule."""
        return self.refusal is not None or row.to_number in self.unlisted

    async def ask(self, row) -> list[ProviderMessage] | None:
        async with self.at_once:
            if self.refusal is not None or row.to_number in self.unlisted:
                return None
            try:
                return await self.provider.messages_to(
                    row.to_number, row.send_started_at - CLOCK_SLACK
                )
            except CannotList as why:
                log.info(
                    "could not ask the SMS provider about messages to %s: %s", row.to_number, why
                )
                self.unlisted.add(row.to_number)
                return None
            except CannotAsk as why:
                self.refusal = str(why)
                return None


async def none() -> None:
    return None


def same_claim(row) -> tuple:
    """Still SENDING from the claim that was asked about: not since retried or reclaimed."""
    return (
        col(SmsMessage.retry_at).is_(None),
        col(SmsMessage.send_started_at) == row.send_started_at,
    )


def ours(row, listed: list[ProviderMessage], taken: set[str]) -> ProviderMessage | None:
    """The provider's message that is this one: same number and text, made after the claim, and
    not already another message's. Of two alike, the earlier."""
    alike = [
        m
        for m in listed
        if m.to == row.to_number and m.body == row.body and m.provider_message_id not in taken
    ]
    return min(alike, key=lambda m: m.created_at) if alike else None


async def known_ids(ctx: dict[str, Any], provider_ids: list[str]) -> set[str]:
    if not provider_ids:
        return set()
    async with ctx["sessions"]() as session:
        return set(
            (
                await session.exec(
                    select(SmsMessage.provider_message_id).where(
                        col(SmsMessage.provider_message_id).in_(set(provider_ids))
                    )
                )
            ).all()
        )


async def record(ctx: dict[str, Any], row, found: ProviderMessage) -> bool:
    values: dict[str, Any] = {"provider_message_id": found.provider_message_id}
    if found.status is SmsStatus.FAILED:
        values |= {"error_code": found.error_code, "error_message": reason_for(found.error_code)}
    try:
        changed = await settle(
            ctx,
            row.id,
            found.status,
            only_from=[SmsStatus.SENDING],
            conditions=same_claim(row),
            **values,
        )
    except IntegrityError:  # its status callback gave the id to this message meanwhile
        return False
    return changed


async def resend(ctx: dict[str, Any], row, now: datetime) -> bool:
    """The provider has no such message: it never arrived, so it may be claimed again."""
    async with ctx["sessions"].begin() as session:
        result = await session.execute(
            update(SmsMessage)
            .where(
                col(SmsMessage.id) == row.id,
                SmsMessage.status == SmsStatus.SENDING,
                *same_claim(row),
            )
            .values(retry_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return result.rowcount == 1


def listing(ids: list[int], most: int = 20) -> str:
    shown = ", ".join(map(str, ids[:most]))
    return shown + (f" and {len(ids) - most} more" if len(ids) > most else "")
