"""Company settings, profiles and users as the API shows them."""

from __future__ import annotations

import strawberry

from models import GlobalSettings
from models import Profile as ProfileRow
from models import User as UserRow
from models.enums import FieldVisibility as FieldVisibilityEnum
from models.segments import MAX_GSM7
from schema.context import Info

FieldVisibility = strawberry.enum(FieldVisibilityEnum, name="FieldVisibility")


@strawberry.type
class Settings:
    sms_enabled: bool
    sms_reminders_enabled: bool
    time_zone: str = strawberry.field(
        description="IANA zone, e.g. Pacific/Auckland; reminder days are counted in it."
    )
    company_name: str
    max_message_length: int = strawberry.field(
        default=MAX_GSM7, description="The longest single-segment message: 160."
    )

    @classmethod
    def from_row(cls, row: GlobalSettings) -> Settings:
        return cls(sms_enabled=row.sms_enabled, sms_reminders_enabled=row.sms_reminders_enabled,
                   time_zone=row.time_zone, company_name=row.company_name)


@strawberry.type
class FormLayout:
    appointment_contact: FieldVisibility
    appointment_sms_reminder: FieldVisibility
    client_sms_reminders: FieldVisibility


@strawberry.type
class Profile:
    row: strawberry.Private[ProfileRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def edit_contact(self) -> bool:
        return self.row.edit_contact

    @strawberry.field
    def send_sms_to_client(self) -> bool:
        return self.row.send_sms_to_client

    @strawberry.field
    def show_sms_errors(self) -> bool:
        return self.row.show_sms_errors

    @strawberry.field
    def global_administrator(self) -> bool:
        return self.row.global_administrator

    @strawberry.field
    def layout(self) -> FormLayout:
        return FormLayout(
            appointment_contact=self.row.layout_appointment_contact,
            appointment_sms_reminder=self.row.layout_appointment_sms_reminder,
            client_sms_reminders=self.row.layout_client_sms_reminders,
        )


@strawberry.type
class User:
    row: strawberry.Private[UserRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def email(self) -> str:
        return self.row.email

    @strawberry.field
    async def profile(self, info: Info) -> Profile:
        return Profile(row=await info.context.loaders.profiles.load(self.row.profile_id))


async def user_by_id(info: Info, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    row = await info.context.loaders.users.load(user_id)
    return User(row=row) if row else None
