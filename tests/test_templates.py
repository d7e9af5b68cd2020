"""Tests for SMS templates: token checks, NZ/AU date and time style, rendering and its length."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from models.errors import DomainError, ErrorCode
from models.segments import SmsLength
from models.templates import (
    TOKENS,
    TemplateValues,
    format_date,
    format_time,
    render,
    render_checked,
    tokens_in,
    validate_template,
)

AKL = "Pacific/Auckland"
SYD = "Australia/Sydney"
ALL_TOKENS = (
    "{client_name}, {contact_name}, {appointment_date}, {appointment_time}, {job_title}, "
    "{task_name}, {user_name}, {company_name}, {reply_hint}"
)
UNKNOWN_TAIL = f"; use one of {ALL_TOKENS}."


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def invalid(body: str | None, field: str = "body") -> DomainError:
    with pytest.raises(DomainError) as caught:
        validate_template(body, field)
    return caught.value


VALUES = TemplateValues(
    client_name="Ngāti Whātua Trust",
    contact_name="Aroha",
    appointment_start=utc("2026-12-01T20:30"),
    job_title="Heat pump service",
    task_name="Filter clean",
    user_name="Sam",
    company_name="Kiwi Cooling",
)


# --- tokens ------------------------------------------------------------------------------------


def test_token_set():
    assert TOKENS == frozenset(
        {
            "client_name",
            "contact_name",
            "appointment_date",
            "appointment_time",
            "job_title",
            "task_name",
            "user_name",
            "reply_hint",
            "company_name",
        }
    )


def test_tokens_in_lists_each_once_in_order_of_first_use():
    body = "{user_name} from {company_name}: {job_title} at {appointment_time}, {user_name}"
    assert tokens_in(body) == ["user_name", "company_name", "job_title", "appointment_time"]


def test_tokens_in_plain_text_is_empty():
    assert tokens_in("See you tomorrow") == []


def test_valid_template_passes():
    assert validate_template(f"Hi {ALL_TOKENS}") is None


# --- validation errors -------------------------------------------------------------------------


def test_unknown_token_is_named_with_the_valid_ones():
    error = invalid("Hi {client}, see you soon", "templateBody")
    assert error.code is ErrorCode.INVALID_TEMPLATE
    assert error.field == "templateBody"
    assert error.message == "Unknown token {client}" + UNKNOWN_TAIL


@pytest.mark.parametrize(
    "token", ["{Client_Name}", "{ client_name }", "{}", "{0}", "{appointment_start}"]
)
def test_near_miss_tokens_are_unknown(token):
    assert invalid(f"Hi {token}").message == f"Unknown token {token}" + UNKNOWN_TAIL


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Hi {client_name", "Unclosed { at position 4; tokens look like {client_name}."),
        ("Hi client_name}", "Stray } at position 15; tokens look like {client_name}."),
        ("Hi {{client_name}}", "Unclosed { at position 4; tokens look like {client_name}."),
        ("{client_name} }", "Stray } at position 15; tokens look like {client_name}."),
        ("Hi {user_{name}}", "Unclosed { at position 4; tokens look like {client_name}."),
        ("Costs {", "Unclosed { at position 7; tokens look like {client_name}."),
    ],
)
def test_malformed_braces(body, message):
    error = invalid(body)
    assert error.code is ErrorCode.INVALID_TEMPLATE
    assert error.message == message


@pytest.mark.parametrize(
    "token",
    [
        "{0.__class__}",
        "{client_name.__class__}",
        "{client_name.__init__.__globals__}",
        "{values.__dict__}",
        "{client_name[0]}",
        "{client_name!r}",
        "{client_name:>500}",
        "{__import__('os')}",
    ],
)
def test_attribute_and_format_spec_attempts_are_invalid(token):
    error = invalid(f"Hi {token}")
    assert error.code is ErrorCode.INVALID_TEMPLATE
    assert error.message == f"Unknown token {token}" + UNKNOWN_TAIL
    with pytest.raises(DomainError) as caught:
        render(f"Hi {token}", VALUES)
    assert caught.value.code is ErrorCode.INVALID_TEMPLATE


@pytest.mark.parametrize("body", [None, "", "   ", "\n\t"])
def test_empty_template(body):
    error = invalid(body, "body")
    assert error.code is ErrorCode.MESSAGE_EMPTY
    assert error.message == "Template is empty."
    assert error.field == "body"


# --- date and time style -----------------------------------------------------------------------


def test_utc_evening_is_next_morning_in_auckland_and_sydney():
    start = utc("2026-12-01T20:30")
    assert (format_date(start, AKL), format_time(start, AKL)) == ("Wed 2 Dec", "9:30am")
    assert (format_date(start, SYD), format_time(start, SYD)) == ("Wed 2 Dec", "7:30am")


def test_same_instant_different_days_across_the_tasman():
    start = utc("2026-09-26T13:59")
    assert (format_date(start, AKL), format_time(start, AKL)) == ("Sun 27 Sep", "1:59am")
    assert (format_date(start, SYD), format_time(start, SYD)) == ("Sat 26 Sep", "11:59pm")


def test_auckland_dst_ends_2026_04_05_repeating_an_hour():
    assert format_time(utc("2026-04-04T13:30"), AKL) == "2:30am"  # NZDT, UTC+13
    assert format_time(utc("2026-04-04T14:30"), AKL) == "2:30am"  # NZST, UTC+12
    assert format_time(utc("2026-04-04T22:00"), AKL) == "10:00am"
    assert format_date(utc("2026-04-04T22:00"), AKL) == "Sun 5 Apr"


def test_auckland_dst_starts_2026_09_27_skipping_an_hour():
    assert format_time(utc("2026-09-26T13:59"), AKL) == "1:59am"
    assert format_time(utc("2026-09-26T14:00"), AKL) == "3:00am"


def test_sydney_dst_ends_2026_04_05_and_starts_2026_10_04():
    assert format_time(utc("2026-04-04T15:30"), SYD) == "2:30am"  # AEDT, UTC+11
    assert format_time(utc("2026-04-04T16:30"), SYD) == "2:30am"  # AEST, UTC+10
    assert format_time(utc("2026-10-03T15:59"), SYD) == "1:59am"
    assert format_time(utc("2026-10-03T16:00"), SYD) == "3:00am"
    assert format_date(utc("2026-10-03T16:00"), SYD) == "Sun 4 Oct"


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("00:00", "12:00am"),
        ("00:05", "12:05am"),
        ("09:30", "9:30am"),
        ("11:59", "11:59am"),
        ("12:00", "12:00pm"),
        ("12:05", "12:05pm"),
        ("13:00", "1:00pm"),
        ("15:00", "3:00pm"),
        ("23:59", "11:59pm"),
    ],
)
def test_am_pm_edges(local, expected):
    start = datetime.fromisoformat(f"2026-07-14T{local}").replace(tzinfo=ZoneInfo(AKL))
    assert format_time(start, AKL) == expected


def test_day_has_no_leading_zero_and_names_are_english():
    start = datetime(2026, 12, 3, 10, 0, tzinfo=ZoneInfo(AKL))
    assert format_date(start, AKL) == "Thu 3 Dec"
    assert format_date(start + timedelta(days=7), AKL) == "Thu 10 Dec"


def test_accepts_a_tzinfo_as_well_as_a_name():
    start = utc("2026-01-01T00:00")
    assert format_time(start, timezone(timedelta(hours=13))) == "1:00pm"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        format_time(datetime(2026, 1, 1, 9, 0), AKL)
    with pytest.raises(ValueError, match="timezone-aware"):
        TemplateValues(appointment_start=datetime(2026, 1, 1, 9, 0))


# --- rendering ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("client_name", "Ngāti Whātua Trust"),
        ("contact_name", "Aroha"),
        ("appointment_date", "Wed 2 Dec"),
        ("appointment_time", "9:30am"),
        ("job_title", "Heat pump service"),
        ("task_name", "Filter clean"),
        ("user_name", "Sam"),
        ("company_name", "Kiwi Cooling"),
    ],
)
def test_each_token_renders(token, expected):
    assert render(f"<{{{token}}}>", VALUES) == f"<{expected}>"


def test_full_reminder_renders():
    body = (
        "Hi {contact_name}, {user_name} from {company_name} will see you {appointment_date} "
        "at {appointment_time} for {job_title}."
    )
    assert render(body, VALUES) == (
        "Hi Aroha, Sam from Kiwi Cooling will see you Wed 2 Dec at 9:30am for Heat pump service."
    )


def test_render_uses_the_company_time_zone():
    values = TemplateValues(appointment_start=utc("2026-12-01T20:30"), time_zone=SYD)
    assert render("{appointment_date} {appointment_time}", values) == "Wed 2 Dec 7:30am"


def test_missing_and_none_values_render_empty():
    values = TemplateValues(client_name=None, job_title=None)  # type: ignore[arg-type]
    assert render("[{client_name}|{job_title}|{appointment_date}|{appointment_time}]", values) == (
        "[|||]"
    )


def test_values_are_trimmed():
    assert render("Hi {contact_name}!", TemplateValues(contact_name="  Aroha \n")) == "Hi Aroha!"


def test_values_that_look_like_tokens_are_not_expanded():
    values = TemplateValues(client_name="{job_title}", job_title="{0.__class__}")
    assert render("{client_name} / {job_title}", values) == "{job_title} / {0.__class__}"


def test_render_refuses_unknown_tokens_with_the_field():
    with pytest.raises(DomainError) as caught:
        render("Hi {client}", VALUES, "smsTemplate")
    assert caught.value.code is ErrorCode.INVALID_TEMPLATE
    assert caught.value.field == "smsTemplate"
    assert caught.value.message == "Unknown token {client}" + UNKNOWN_TAIL


# --- rendered length ---------------------------------------------------------------------------


def test_render_checked_returns_text_and_size():
    text, size = render_checked("Hi {contact_name}, see you {appointment_time}", VALUES)
    assert text == "Hi Aroha, see you 9:30am"
    assert size == SmsLength(length=24, encoding="GSM-7", segments=1, limit=160)


def test_long_job_title_pushes_rendered_text_over_160():
    # 23 characters around the job title once the date renders as "Wed 2 Dec".
    body = "Reminder: {job_title} on {appointment_date}"
    values = TemplateValues(job_title="x" * 137, appointment_start=utc("2026-12-01T20:30"))
    assert render_checked(body, values)[1].length == 160
    longer = TemplateValues(job_title="x" * 138, appointment_start=utc("2026-12-01T20:30"))
    with pytest.raises(DomainError) as caught:
        render_checked(body, longer, "reminderTemplate")
    assert caught.value.code is ErrorCode.MESSAGE_TOO_LONG
    assert caught.value.field == "reminderTemplate"
    assert caught.value.message == "Message is 161 characters; one SMS holds 160."


def test_macron_in_a_client_name_switches_rendered_text_to_ucs2():
    body = "Hi {client_name}, " + "a" * 50
    text, size = render_checked(body, TemplateValues(client_name="Tāmati"))
    assert size == SmsLength(length=len(text), encoding="UCS-2", segments=1, limit=70)
    with pytest.raises(DomainError) as caught:
        render_checked(body, TemplateValues(client_name="Tāmati Waaka-Wilson"))
    assert caught.value.message == (
        'Message is 74 characters; one SMS holds 70 because it contains "ā".'
    )


def test_template_that_renders_to_blank_is_empty():
    with pytest.raises(DomainError) as caught:
        render_checked("{client_name}", TemplateValues())
    assert caught.value.code is ErrorCode.MESSAGE_EMPTY
    assert caught.value.message == "Message is empty."


def test_reply_hint_invites_the_keywords_a_reply_is_matched_on():
    text = render("See you {appointment_date}. {reply_hint}", TemplateValues(
        appointment_start=utc("2026-12-02 20:00"), time_zone="Pacific/Auckland"))

    assert text == "See you Thu 3 Dec. Reply C to confirm, R to reschedule"


def test_reply_hint_is_left_out_of_a_message_about_no_appointment():
    text = render("Thanks for today. {reply_hint}", TemplateValues(about_appointment=False))

    assert text == "Thanks for today. "
