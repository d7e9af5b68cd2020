"""Plain Starlette endpoints doing the benchmarked work without GraphQL: the baselines.

`calendar` answers the GraphQL `calendar` query of bench/calendar.py with the same JSON the way
a DataLoader plan would (the bearer-token lookup, the appointments, then jobs, tasks, SMS
counts, clients, contacts and opt-outs, each by a list of ids, as ORM entities) on one session.

`calendar_lean` is the same endpoint as one would write it by hand for that JSON: the token
lookup, one joined SELECT of Core rows (appointments with their job, client, task and contact,
and each one's SMS count as a subquery), then the opt-outs of the numbers shown: three
statements whatever the number of appointments, and no ORM entities.

`sendSms` makes the same rows as the mutation (a QUEUED message and its appointment link) and
enqueues the same arq job, with only what a hand-written endpoint needs: the token lookup and
one joined read of the appointment, its job, client and contact. No GraphQL, and none of the
mutation's checks.

Served by uvicorn with `--factory bench.baseline:calendar_app` (or `calendar_lean_app`, or
`send_sms_app`);
both read DATABASE_URL and REDIS_URL as the real app does.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.auth import bearer_token, signed_in
from models import (
    Appointment,
    Client,
    Contact,
    Job,
    OptOut,
    SmsMessage,
    SmsMessageAppointment,
    Task,
)
from models.accounts import user_for_token
from models.channels import enqueue_send
from models.config import get_settings
from models.db import Sessions, create_engine, session_factory
from models.enums import RecipientKind, SmsSource, SmsStatus
from models.periods import MAX_PERIOD_ROWS
from models.phone import is_sms_number
from models.recipients import (
    Recipient,
    client_number,
    client_recipient,
    client_sms_number,
    contact_recipient,
    eligibility,
    opted_out_numbers,
)
from models.segments import check_message

UNAUTHENTICATED = {
    "data": None,
    "errors": [
        {
            "message": "Sign in first: no or invalid bearer token.",
            "extensions": {"code": "UNAUTHENTICATED"},
        }
    ],
}


class Held:
    """The engine, sessions and queue: given (in-process runs) or opened by the lifespan."""

    def __init__(self, engine: AsyncEngine | None = None, queue: ArqRedis | None = None):
        self.engine = engine
        self.sessions: Sessions | None = session_factory(engine) if engine else None
        self.queue = queue
        self.owned = engine is None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette, with_queue: bool) -> AsyncIterator[None]:
        if not self.owned:
            yield
            return
        settings = get_settings()
        self.engine = create_engine(settings.database_url)
        self.sessions = session_factory(self.engine)
        if with_queue:
            self.queue = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        try:
            yield
        finally:
            if self.queue is not None:
                await self.queue.aclose()
            await self.engine.dispose()


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def calendar_app(engine: AsyncEngine | None = None) -> Starlette:
    """The calendar from a DataLoader's plan (calendar_json): the mirror."""
    return calendar_endpoint(calendar_json, engine)


def calendar_lean_app(engine: AsyncEngine | None = None) -> Starlette:
    """The calendar as written by hand (calendar_lean_json): the baseline."""
    return calendar_endpoint(calendar_lean_json, engine)


def calendar_endpoint(answer: Callable[..., Awaitable[list[dict]]], engine: AsyncEngine | None):
    held = Held(engine)

    async def calendar(request: Request) -> JSONResponse:
        token = bearer_token(request.headers.get("authorization"))
        variables = (await request.json())["variables"]
        start = datetime.fromisoformat(variables["start"])
        end = datetime.fromisoformat(variables["end"])
        async with held.sessions() as session:
            signed = await user_for_token(session, token) if token else None
            if signed is None:
                return JSONResponse(UNAUTHENTICATED)
            user, _, _ = signed
            appointments = await answer(session, user.id, start, end)
        return JSONResponse({"data": {"calendar": appointments}})

    return Starlette(
        routes=[Route("/calendar", calendar, methods=["POST"]), Route("/healthz", healthz)],
        lifespan=lambda app: held.lifespan(app, with_queue=False),
    )


def lean_calendar_statement(owner_id: int, start: datetime, end: datetime):
    a, j, c, t, k = (m.__table__ for m in (Appointment, Job, Client, Task, Contact))
    link, message = SmsMessageAppointment.__table__, SmsMessage.__table__
    sms_count = (
        select(func.count())
        .select_from(link.join(message, message.c.id == link.c.message_id))
        .where(link.c.appointment_id == a.c.id, message.c.status != SmsStatus.FAILED)
        .scalar_subquery()
    )
    return (
        select(
            a.c.id,
            a.c.start,
            a.c.end,
            a.c.sms_reminder,
            sms_count.label("sms_count"),
            j.c.id.label("job_id"),
            j.c.title,
            j.c.latitude,
            j.c.longitude,
            c.c.id.label("client_id"),
            c.c.name.label("client_name"),
            c.c.sms_number.label("client_sms"),
            c.c.mobile_country_code,
            c.c.mobile_number,
            t.c.id.label("task_id"),
            t.c.name.label("task_name"),
            k.c.id.label("contact_id"),
            k.c.name.label("contact_name"),
            k.c.sms_number.label("contact_sms"),
            k.c.active.label("contact_active"),
        )
        .select_from(
            a.join(j, j.c.id == a.c.job_id)
            .join(c, c.c.id == j.c.client_id)
            .outerjoin(t, t.c.id == a.c.task_id)
            .outerjoin(k, k.c.id == a.c.contact_id)
        )
        .where(a.c.user_id == owner_id, a.c.start < end, a.c.end > start)
        .order_by(a.c.start, a.c.id)
        .limit(MAX_PERIOD_ROWS + 1)
    )


async def calendar_lean_json(session, owner_id: int, start: datetime, end: datetime) -> list[dict]:
    rows = (await session.execute(lean_calendar_statement(owner_id, start, end))).all()
    numbers = {
        r.id: r.contact_sms
        if r.contact_id is not None
        else client_number(r.client_sms, r.mobile_country_code, r.mobile_number)
        for r in rows
    }
    opted_out = await opted_out_numbers(session, numbers.values())
    shown = []
    for r in rows:
        number = numbers[r.id]
        is_out = number in opted_out
        if r.contact_id is None:
            kind, recipient_id, name = "CLIENT", r.client_id, r.client_name
            problem = eligibility(number, is_out)
        else:
            kind, recipient_id, name = "CONTACT", r.contact_id, r.contact_name
            problem = eligibility(number, is_out, r.contact_active)
        shown.append(
            {
                "id": str(r.id),
                "start": r.start.isoformat(),
                "end": r.end.isoformat(),
                "smsReminder": r.sms_reminder,
                "smsCount": r.sms_count,
                "job": {
                    "id": str(r.job_id),
                    "title": r.title,
                    "latitude": r.latitude,
                    "longitude": r.longitude,
                    "client": {
                        "id": str(r.client_id),
                        "name": r.client_name,
                        "smsNumber": r.client_sms,
                    },
                },
                "task": {"id": str(r.task_id), "name": r.task_name} if r.task_id else None,
                "contact": {
                    "kind": kind,
                    "id": str(recipient_id),
                    "name": name,
                    "smsNumber": number,
                    "optedOut": is_out,
                    "canReceiveSms": problem is None,
                    "problem": problem.name if problem else None,
                },
            }
        )
    return shown


async def by_id(session, model, ids: Sequence[int]) -> dict[int, Any]:
    if not ids:
        return {}
    rows = (await session.exec(select(model).where(col(model.id).in_(ids)))).all()
    return {row.id: row for row in rows}


async def calendar_json(session, owner_id: int, start: datetime, end: datetime) -> list[dict]:
    appointments = (
        await session.exec(
            select(Appointment)
            .where(
                Appointment.user_id == owner_id,
                col(Appointment.start) < end,
                col(Appointment.end) > start,
            )
            .order_by(Appointment.start, Appointment.id)
            .limit(MAX_PERIOD_ROWS + 1)  # as models.periods.in_period asks
        )
    ).all()
    if not appointments:
        return []
    jobs = await by_id(session, Job, unique(a.job_id for a in appointments))
    tasks = await by_id(session, Task, unique(a.task_id for a in appointments if a.task_id))
    link = SmsMessageAppointment
    counts = dict(
        (
            await session.exec(
                select(link.appointment_id, func.count())
                .join(SmsMessage, col(SmsMessage.id) == link.message_id)
                .where(
                    col(link.appointment_id).in_(unique(a.id for a in appointments)),
                    SmsMessage.status != SmsStatus.FAILED,
                )
                .group_by(link.appointment_id)
            )
        ).all()
    )
    clients = await by_id(session, Client, unique(j.client_id for j in jobs.values()))
    contacts = await by_id(
        session, Contact, unique(a.contact_id for a in appointments if a.contact_id)
    )
    numbers = unique(
        client_sms_number(clients[jobs[a.job_id].client_id])
        if a.contact_id is None
        else contacts[a.contact_id].sms_number
        for a in appointments
    )
    opted_out = await opted_out_numbers(session, numbers)

    shown = []
    for a in appointments:
        job, task = jobs[a.job_id], tasks.get(a.task_id)
        client = clients[job.client_id]
        recipient = (
            client_recipient(client, opted_out)
            if a.contact_id is None
            else contact_recipient(contacts[a.contact_id], opted_out)
        )
        shown.append(
            {
                "id": str(a.id),
                "start": a.start.isoformat(),
                "end": a.end.isoformat(),
                "smsReminder": a.sms_reminder,
                "smsCount": counts.get(a.id, 0),
                "job": {
                    "id": str(job.id),
                    "title": job.title,
                    "latitude": job.latitude,
                    "longitude": job.longitude,
                    "client": {
                        "id": str(client.id),
                        "name": client.name,
                        "smsNumber": client.sms_number,
                    },
                },
                "task": {"id": str(task.id), "name": task.name} if task else None,
                "contact": recipient_json(recipient),
            }
        )
    return shown


def recipient_json(recipient: Recipient) -> dict[str, Any]:
    return {
        "kind": recipient.kind.name,
        "id": str(recipient.id),
        "name": recipient.name,
        "smsNumber": recipient.sms_number,
        "optedOut": recipient.opted_out,
        "canReceiveSms": recipient.can_receive_sms,
        "problem": recipient.problem.name if recipient.problem else None,
    }


def unique(values) -> list:
    return list(dict.fromkeys(values))


def sent(message: SmsMessage) -> dict[str, Any]:
    return {
        "data": {
            "sendSms": {
                "message": {"id": str(message.id), "status": message.status.name},
                "errors": [],
            }
        }
    }


def refusal(code: str) -> dict[str, Any]:
    return {"data": {"sendSms": {"message": None, "errors": [{"code": code}]}}}


def send_sms_app(engine: AsyncEngine | None = None, queue: ArqRedis | None = None) -> Starlette:
    held = Held(engine, queue)

    async def send_sms(request: Request) -> JSONResponse:
        # The reads the same checks need, as few as they can be: the token with its user,
        # profile and the company's settings; a send already made with this key; the
        # appointment with its job, client, contact and the recipient's opt-out.
        signed = await signed_in(held.sessions, bearer_token(request.headers.get("authorization")))
        if signed is None:
            return JSONResponse(UNAUTHENTICATED)
        company = signed.company
        if not (signed.profile.send_sms_to_client and company and company.sms_enabled):
            return JSONResponse(refusal("PERMISSION_DENIED"))
        given = (await request.json())["variables"]["input"]
        text = given["body"]
        length = check_message(text)
        key = given.get("idempotencyKey")
        async with held.sessions.begin() as session:
            if key:
                earlier = (
                    await session.exec(
                        select(SmsMessage).where(
                            SmsMessage.sent_by_id == signed.user.id,
                            SmsMessage.idempotency_key == key,
                        )
                    )
                ).first()
                if earlier is not None:
                    return JSONResponse(sent(earlier))
            number_opted_out = select(OptOut.id).where(
                OptOut.number == func.coalesce(Contact.sms_number, Client.sms_number),
                OptOut.opted_out,
            )
            appointment, job, client, contact, opted_out = (
                await session.exec(
                    select(Appointment, Job, Client, Contact, number_opted_out.exists())
                    .join(Job, col(Job.id) == Appointment.job_id)
                    .join(Client, col(Client.id) == Job.client_id)
                    .outerjoin(Contact, col(Contact.id) == Appointment.contact_id)
                    .where(Appointment.id == int(given["appointmentId"]))
                )
            ).one()
            kind, recipient_id, number = (
                (RecipientKind.CONTACT, contact.id, contact.sms_number)
                if contact
                else (RecipientKind.CLIENT, client.id, client_sms_number(client))
            )
            if opted_out or not is_sms_number(number):
                return JSONResponse(refusal("OPTED_OUT" if opted_out else "NO_SMS_NUMBER"))
            message = SmsMessage(
                to_number=number,
                body=text,
                status=SmsStatus.QUEUED,
                source=SmsSource.APP,
                recipient_kind=kind,
                recipient_id=recipient_id,
                client_id=client.id,
                appointment_id=appointment.id,
                job_id=job.id,
                sent_by_id=signed.user.id,
                segments=length.segments,
                encoding=length.encoding,
                idempotency_key=given.get("idempotencyKey"),
            )
            session.add(message)
            await session.flush()
            session.add(SmsMessageAppointment(message_id=message.id, appointment_id=appointment.id))
        await enqueue_send(held.queue, message.id)
        return JSONResponse(sent(message))

    return Starlette(
        routes=[Route("/send-sms", send_sms, methods=["POST"]), Route("/healthz", healthz)],
        lifespan=lambda app: held.lifespan(app, with_queue=True),
    )
