"""Who an SMS goes to: default recipients, eligibility, and the client's own recipients."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models import Client, Contact, OptOut
from models.enums import OptOutMethod, RecipientKind
from models.errors import DomainError, ErrorCode
from models.recipients import (
    Recipient,
    RecipientRef,
    default_appointment_contact,
    default_time_entry_recipient,
    eligibility,
    recipient_of_client,
    recipients_of_client,
)

CLIENT, CONTACT = RecipientKind.CLIENT, RecipientKind.CONTACT


# --- defaults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("task_contact", "job_contact", "expected"), [
    (7, 3, 7),
    (None, 3, 3),
    (7, None, 7),
    (None, None, None),
])
def test_an_appointment_defaults_to_the_task_then_the_job_contact_then_the_client(
        task_contact, job_contact, expected):
    assert default_appointment_contact(task_contact, job_contact) == expected


@pytest.mark.parametrize(("appointment_contact", "task_contact", "job_contact", "expected"), [
    (RecipientRef(CLIENT, 40), 7, 3, RecipientRef(CLIENT, 40)),
    (RecipientRef(CONTACT, 9), 7, 3, RecipientRef(CONTACT, 9)),
    (None, 7, 3, RecipientRef(CONTACT, 7)),
    (None, None, 3, RecipientRef(CONTACT, 3)),
    (None, None, None, RecipientRef(CLIENT, 40)),
])
def test_a_time_entry_defaults_to_its_appointment_contact_then_task_job_and_client(
        appointment_contact, task_contact, job_contact, expected):
    assert default_time_entry_recipient(40, appointment_contact, task_contact,
                                        job_contact) == expected


# --- eligibility ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("number", "opted_out", "problem"), [
    ("+64215550111", False, None),
    ("+61412555301", False, None),
    (None, False, ErrorCode.NO_SMS_NUMBER),
    ("", True, ErrorCode.NO_SMS_NUMBER),
    ("+6495550123", False, ErrorCode.INVALID_SMS_NUMBER),
    ("021 555 0111", False, ErrorCode.INVALID_SMS_NUMBER),
    ("+6495550123", True, ErrorCode.INVALID_SMS_NUMBER),
    ("+64215550111", True, ErrorCode.OPTED_OUT),
])
def test_eligibility(number, opted_out, problem):
    assert eligibility(number, opted_out) == problem


@pytest.mark.parametrize(("number", "opted_out", "code", "says"), [
    (None, False, ErrorCode.NO_SMS_NUMBER, "Mere Tane has no SMS number."),
    ("+6495550123", False, ErrorCode.INVALID_SMS_NUMBER, "+6495550123 is not a valid"),
    ("+64215550111", True, ErrorCode.OPTED_OUT, "opted out"),
])
def test_a_recipient_that_cannot_receive_says_why(number, opted_out, code, says):
    recipient = Recipient(CONTACT, 1, 1, "Mere Tane", number, opted_out,
                          eligibility(number, opted_out))

    with pytest.raises(DomainError) as refused:
        recipient.require_sms()

    assert recipient.can_receive_sms is False
    assert refused.value.code is code
    assert says in refused.value.message


def test_a_recipient_that_can_receive_gives_its_number():
    recipient = Recipient(CONTACT, 1, 1, "Mere Tane", "+64215550111", False, None)

    assert recipient.can_receive_sms is True
    assert recipient.require_sms() == "+64215550111"
    assert recipient.ref == RecipientRef(CONTACT, 1)


# --- the client's recipients, from the database ---------------------------------------------------


async def client_named(sessions, name: str) -> Client:
    async with sessions() as session:
        return (await session.exec(select(Client).where(Client.name == name))).one()


async def contact_named(sessions, name: str) -> Contact:
    async with sessions() as session:
        return (await session.exec(select(Contact).where(Contact.name == name))).one()


async def opt_out(sessions, number: str, opted_out: bool = True) -> None:
    async with sessions.begin() as session:
        session.add(OptOut(number=number, method=OptOutMethod.KEYWORD, opted_out=opted_out))


async def test_a_clients_recipients_are_itself_then_its_active_contacts_by_name(demo):
    kelburn = await client_named(demo, "Kelburn Villas Body Corporate")

    async with demo() as session:
        recipients = await recipients_of_client(session, kelburn.id)

    assert [(r.kind, r.name, r.sms_number, r.problem) for r in recipients] == [
        (CLIENT, "Kelburn Villas Body Corporate", "+64295550133", None),
        (CONTACT, "Caretaker", None, ErrorCode.NO_SMS_NUMBER),
    ]


async def test_opted_out_numbers_show_on_the_client_and_its_contacts(demo):
    harbourside = await client_named(demo, "Harbourside Cafe")
    await opt_out(demo, "+64215550110")
    await opt_out(demo, "+64215550111", opted_out=False)

    async with demo() as session:
        recipients = await recipients_of_client(session, harbourside.id)

    assert [(r.name, r.opted_out, r.problem) for r in recipients] == [
        ("Harbourside Cafe", True, ErrorCode.OPTED_OUT),
        ("Accounts", False, ErrorCode.NO_SMS_NUMBER),
        ("Mere Tane", False, None),
    ]


async def test_a_client_without_a_mobile_has_no_sms_number(demo):
    te_aro = await client_named(demo, "Te Aro Dental")

    async with demo() as session:
        recipients = await recipients_of_client(session, te_aro.id)

    assert [(r.name, r.sms_number, r.problem) for r in recipients] == [
        ("Te Aro Dental", None, ErrorCode.NO_SMS_NUMBER),
        ("Dr Hemi Walker", None, ErrorCode.NO_SMS_NUMBER),
        ("Reception", "+64275550142", None),
    ]


async def test_a_client_mobile_saved_before_it_was_checked_shows_as_invalid(sessions):
    async with sessions.begin() as session:
        legacy = Client(name="Legacy Ltd", mobile_country_code="+64", mobile_number="09 555 0123")
        session.add(legacy)

    async with sessions() as session:
        (recipient,) = await recipients_of_client(session, legacy.id)

    assert (recipient.sms_number, recipient.problem) == (
        "+64 09 555 0123", ErrorCode.INVALID_SMS_NUMBER)


async def test_an_unknown_client_has_no_recipients(demo):
    async with demo() as session:
        assert await recipients_of_client(session, 10_000) == []


async def test_the_client_and_its_own_contact_are_its_recipients(demo):
    harbourside = await client_named(demo, "Harbourside Cafe")
    mere = await contact_named(demo, "Mere Tane")

    async with demo() as session:
        itself = await recipient_of_client(session, harbourside.id,
                                           RecipientRef(CLIENT, harbourside.id))
        contact = await recipient_of_client(session, harbourside.id, RecipientRef(CONTACT, mere.id))

    assert (itself.kind, itself.name, itself.sms_number) == (CLIENT, "Harbourside Cafe",
                                                             "+64215550110")
    assert (contact.kind, contact.client_id, contact.sms_number) == (
        CONTACT, harbourside.id, "+64215550111")


async def test_another_clients_contact_or_the_other_client_is_an_invalid_recipient(demo):
    harbourside = await client_named(demo, "Harbourside Cafe")
    te_aro = await client_named(demo, "Te Aro Dental")
    reception = await contact_named(demo, "Reception")

    for ref in (RecipientRef(CONTACT, reception.id), RecipientRef(CLIENT, te_aro.id),
                RecipientRef(CONTACT, 10_000), RecipientRef(CLIENT, 10_000)):
        async with demo() as session:
            with pytest.raises(DomainError) as refused:
                await recipient_of_client(session, harbourside.id, ref)
        assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_RECIPIENT,
                                                             "recipient"), ref


async def test_an_inactive_contact_is_an_invalid_recipient_unless_inactive_ones_are_allowed(demo):
    kelburn = await client_named(demo, "Kelburn Villas Body Corporate")
    former = await contact_named(demo, "Former Manager")
    ref = RecipientRef(CONTACT, former.id)

    async with demo() as session:
        with pytest.raises(DomainError) as refused:
            await recipient_of_client(session, kelburn.id, ref)
        allowed = await recipient_of_client(session, kelburn.id, ref, active_only=False)

    assert refused.value.code is ErrorCode.INVALID_RECIPIENT
    assert "Former Manager is no longer active" in refused.value.message
    assert (allowed.name, allowed.sms_number) == ("Former Manager", "+64215550199")
