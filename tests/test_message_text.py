"""sms_message_text: the number and text the history searches, written with the message by
database triggers and left alone by status changes."""

from __future__ import annotations

import sqlite3

from sqlalchemy import delete, insert, text, update
from sqlmodel import select

from models import SmsMessage, SmsMessageText
from models.enums import SmsSource, SmsStatus


async def texts(sessions, ids: list[int]) -> dict[int, tuple[str, str]]:
    async with sessions() as session:
        rows = await session.exec(
            select(SmsMessageText).where(SmsMessageText.message_id.in_(ids)))
        return {row.message_id: (row.to_number, row.body) for row in rows}


async def test_each_message_added_has_its_text_however_it_was_added(sessions):
    async with sessions.begin() as session:
        one = SmsMessage(to_number="+64211110001", body="On my way", source=SmsSource.APP)
        session.add(one)
        await session.flush()
        # As a reminder run adds its messages: one INSERT of many rows.
        many = (await session.execute(
            insert(SmsMessage).returning(SmsMessage.id),
            [dict(to_number=f"+6421111000{n}", body=f"Reminder {n}", source=SmsSource.REMINDER,
                  status=SmsStatus.QUEUED) for n in range(2, 5)],
        )).scalars().all()

    assert await texts(sessions, [one.id, *many]) == {
        one.id: ("+64211110001", "On my way"),
        **{i: (f"+6421111000{n}", f"Reminder {n}") for i, n in zip(many, range(2, 5), strict=True)},
    }


async def test_a_status_change_leaves_the_text_alone_and_a_new_text_is_kept(sessions, database_url):
    async with sessions.begin() as session:
        message = SmsMessage(to_number="+64211110009", body="Hello", source=SmsSource.APP)
        session.add(message)
    postgresql = database_url.startswith("postgresql")

    async def updated_texts(session) -> int | None:
        """Rows of sms_message_text this transaction updated, where the database counts them
        (PostgreSQL; SQLite does not)."""
        if not postgresql:
            return None
        return (await session.execute(text(
            "SELECT n_tup_upd FROM pg_stat_xact_user_tables "
            "WHERE relname = 'sms_message_text'"))).scalar()

    async with sessions.begin() as session:
        await session.execute(update(SmsMessage).where(SmsMessage.id == message.id).values(
            status=SmsStatus.SENT, provider_message_id="SM1"))
        assert await updated_texts(session) in (0, None)
        assert await texts(sessions, [message.id]) == {message.id: ("+64211110009", "Hello")}
        await session.execute(update(SmsMessage).where(SmsMessage.id == message.id).values(
            body="Hello again"))
        assert await updated_texts(session) in (1, None)

    assert await texts(sessions, [message.id]) == {message.id: ("+64211110009", "Hello again")}


async def test_a_deleted_message_takes_its_text_with_it(sessions, database_url):
    async with sessions.begin() as session:
        message = SmsMessage(to_number="+64211110010", body="Bye", source=SmsSource.APP)
        session.add(message)
    async with sessions.begin() as session:
        await session.execute(delete(SmsMessage).where(SmsMessage.id == message.id))
    assert await texts(sessions, [message.id]) == {}
    if not database_url.startswith("sqlite"):
        return
    # Also over a connection without SQLite's foreign keys turned on (its command line).
    async with sessions.begin() as session:
        message = SmsMessage(to_number="+64211110011", body="Bye again", source=SmsSource.APP)
        session.add(message)
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as plain:
        plain.execute("DELETE FROM sms_message WHERE id = ?", (message.id,))

    assert await texts(sessions, [message.id]) == {}
