"""Company settings, profiles and users as the API shows them."""

from __future__ import annotations

from collections.abc import Awaitable

import strawberry

from models import GlobalSettings
from models import Profile as ProfileRow
from models import User as UserRow
from models.enums import FieldVisibility as FieldVisibilityEnum
from models.segments import MAX_GSM7
from schema.context import Info
from schema.loaders import now_or_later, shown

FieldVisibility = strawberry.enum(FieldVisibilityEnum, name="FieldVisibility")


@strawberry.type
class Settings:
    sms_enabled: bool
    sms_reminders_enabled: bool
    time_zone: str = strawberry.field(
        description="IANA zone, e.g. Pacific/Auckland; reminder days are counted in it."
    )
    company_name: str
    plain_vowels_for_macrons: bool = strawberry.field(
        description="Write ā ē ī ō ū as a e i o u when that keeps a message in one SMS "
        "(off by default)."
    )
    max_message_length: int = strawberry.field(
        default=MAX_GSM7, description="The longest single-segment message: 160."
    )

    @classmethod
    def from_row(cls, row: GlobalSettings) -> Settings:
        return cls(
            sms_enabled=row.sms_enabled,
            sms_reminders_enabled=row.sms_reminders_enabled,
            time_zone=row.time_zone,
            company_name=row.company_name,
            plain_vowels_for_macrons=row.plain_vowels_for_macrons,
        )


@strawberry.type
class FormLayout:
    appointment_contact: FieldVisibility
    appointment_sms_reminder: FieldVisibility
    client_sms_reminders: FieldVisibility


@strawberry.type
class Profile:
    id: strawberry.ID
    name: str
    edit_contact: bool
    send_sms_to_client: bool
    show_sms_errors: bool
    global_administrator: bool
    layout: FormLayout

    @classmethod
    def from_row(cls, row: ProfileRow) -> Profile:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            edit_contact=row.edit_contact,
            send_sms_to_client=row.send_sms_to_client,
            show_sms_errors=row.show_sms_errors,
            global_administrator=row.global_administrator,
            layout=FormLayout(
                appointment_contact=row.layout_appointment_contact,
                appointment_sms_reminder=row.layout_appointment_sms_reminder,
                client_sms_reminders=row.layout_client_sms_reminders,
            ),
        )


@strawberry.type
class User:
    row: strawberry.Private[UserRow]
    id: strawberry.ID
    name: str
    email: str

    @classmethod
    def from_row(cls, row: UserRow) -> User:
        return cls(row=row, id=strawberry.ID(str(row.id)), name=row.name, email=row.email)

    @strawberry.field
    async def profile(self, info: Info) -> Profile:
        return Profile.from_row(await info.context.loaders.profiles.load(self.row.profile_id))


def user_by_id(info: Info, user_id: int | None) -> User | None | Awaitable[User | None]:
    if user_id is None:
        return None
    return now_or_later(info.context.loaders.users, user_id, shown(User))
