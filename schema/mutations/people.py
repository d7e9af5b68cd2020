"""The Admin Console's profiles and users; the rules are models.people."""

from __future__ import annotations

import strawberry

from models import Profile as ProfileRow
from models import User as UserRow
from models import people
from schema.context import Info
from schema.errors import UserError, user_errors
from schema.ids import existing_row, optional_row_id
from schema.people import FieldVisibility, Profile, User
from schema.permissions import IsAuthenticated


@strawberry.input
class FormLayoutInput:
    appointment_contact: FieldVisibility | None = None
    appointment_sms_reminder: FieldVisibility | None = None
    client_sms_reminders: FieldVisibility | None = None


@strawberry.input
class ProfileInput:
    name: str | None = None
    edit_contact: bool | None = None
    send_sms_to_client: bool | None = None
    show_sms_errors: bool | None = None
    global_administrator: bool | None = None
    layout: FormLayoutInput | None = None

    def changes(self) -> people.ProfileChanges:
        layout = self.layout or FormLayoutInput()
        return people.ProfileChanges(
            name=self.name,
            edit_contact=self.edit_contact,
            send_sms_to_client=self.send_sms_to_client,
            show_sms_errors=self.show_sms_errors,
            global_administrator=self.global_administrator,
            layout_appointment_contact=layout.appointment_contact,
            layout_appointment_sms_reminder=layout.appointment_sms_reminder,
            layout_client_sms_reminders=layout.client_sms_reminders,
        )


@strawberry.type
class ProfilePayload:
    profile: Profile | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class UserInput:
    name: str | None = None
    email: str | None = None
    password: str | None = strawberry.field(
        default=None, description="Required on create; on update, a new password."
    )
    profile_id: strawberry.ID | None = None

    def changes(self) -> people.UserChanges:
        return people.UserChanges(
            name=self.name,
            email=self.email,
            password=self.password,
            profile_id=optional_row_id(self.profile_id, "profileId"),
        )


@strawberry.type
class UserPayload:
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PeopleMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated], description="Global Administrator only."
    )
    @user_errors(ProfilePayload)
    async def create_profile(self, info: Info, input: ProfileInput) -> ProfilePayload:
        info.context.require_admin()
        async with info.context.sessions.begin() as session:
            row = await people.create_profile(session, input.changes())
        return ProfilePayload(profile=Profile.from_row(row))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated], description="Global Administrator only."
    )
    @user_errors(ProfilePayload)
    async def update_profile(
        self, info: Info, id: strawberry.ID, input: ProfileInput
    ) -> ProfilePayload:
        info.context.require_admin()
        async with info.context.sessions.begin() as session:
            row = await existing_row(session, ProfileRow, id, what="profile")
            await people.change_profile(session, row, input.changes())
        return ProfilePayload(profile=Profile.from_row(row))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated], description="Global Administrator only."
    )
    @user_errors(UserPayload)
    async def create_user(self, info: Info, input: UserInput) -> UserPayload:
        info.context.require_admin()
        async with info.context.sessions.begin() as session:
            row = await people.create_user(session, input.changes())
        return UserPayload(user=User.from_row(row))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated], description="Global Administrator only."
    )
    @user_errors(UserPayload)
    async def update_user(self, info: Info, id: strawberry.ID, input: UserInput) -> UserPayload:
        info.context.require_admin()
        async with info.context.sessions.begin() as session:
            row = await existing_row(session, UserRow, id, what="user")
            await people.change_user(session, row, input.changes())
        return UserPayload(user=User.from_row(row))
