"""Signing in and out, company settings and acknowledging the failure alert."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import strawberry

from models import AlertAcknowledgement, GlobalSettings
from models.access import require_show_sms_errors
from models.accounts import TOKEN_DIGEST_SCOPE_KEY, revoke_token, sign_in
from models.alerts import failure_alert
from models.columns import utcnow
from models.company import SETTINGS_ID
from models.errors import DomainError, ErrorCode
from models.sign_in_limits import SignInLimits
from schema.context import Info
from schema.errors import UserError, user_errors
from schema.people import Settings, User
from schema.permissions import IsAuthenticated, coded_errors
from schema.queries.history import SmsFailureAlert


@strawberry.input
class LoginInput:
    email: str
    password: str


@strawberry.type
class LoginPayload:
    token: str | None = None
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LogoutPayload:
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SettingsInput:
    sms_enabled: bool | None = None
    sms_reminders_enabled: bool | None = None
    time_zone: str | None = None
    company_name: str | None = None
    plain_vowels_for_macrons: bool | None = None


@strawberry.type
class SettingsPayload:
    settings: Settings | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def valid_time_zone(name: str) -> str:
    # A key is looked up as a file: one too long for a file name is an OSError, not "unknown".
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = repr(name) if len(name) <= 64 else "That"
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"{shown} is not a known IANA time zone.", field="timeZone"
        ) from None
    return name


@strawberry.type
class AccountMutation:
    @strawberry.mutation
    @user_errors(LoginPayload)
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        context = info.context
        # The direct peer; behind a proxy, run uvicorn with --proxy-headers and
        # --forwarded-allow-ips so this is the client's address, not the proxy's.
        client = context.request.client.host if context.request.client else None
        signed_in = await sign_in(
            context.sessions,
            SignInLimits.from_settings(context.queue, context.settings),
            input.email,
            input.password,
            client,
            timedelta(hours=context.settings.token_ttl_hours),
        )
        if signed_in is None:
            return LoginPayload(
                errors=[
                    UserError(
                        code=ErrorCode.UNAUTHENTICATED,
                        field="password",
                        message="Wrong e-mail or password.",
                    )
                ]
            )
        token, user = signed_in
        return LoginPayload(token=token, user=User.from_row(user))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Revoke the token this request was made with.",
    )
    async def logout(self, info: Info) -> LogoutPayload:
        digest = info.context.request.scope.get(TOKEN_DIGEST_SCOPE_KEY)
        if digest is None:
            # Signed in by a websocket's connection_init, which carries no Authorization header.
            return LogoutPayload(
                errors=[
                    UserError(
                        code=ErrorCode.INVALID_INPUT,
                        message="Sign out over HTTP, with the token in the Authorization header.",
                    )
                ]
            )
        async with info.context.sessions.begin() as session:
            await revoke_token(session, digest)
        return LogoutPayload()

    @strawberry.mutation(
        permission_classes=[IsAuthenticated], description="Global Administrator only."
    )
    @user_errors(SettingsPayload)
    async def update_settings(self, info: Info, input: SettingsInput) -> SettingsPayload:
        info.context.require_admin()
        async with info.context.sessions.begin() as session:
            row = await session.get(GlobalSettings, SETTINGS_ID)
            if row is None:
                row = GlobalSettings(time_zone=info.context.settings.time_zone)
                session.add(row)
            if input.sms_enabled is not None:
                row.sms_enabled = input.sms_enabled
            if input.sms_reminders_enabled is not None:
                row.sms_reminders_enabled = input.sms_reminders_enabled
            if input.time_zone is not None:
                row.time_zone = valid_time_zone(input.time_zone.strip())
            if input.company_name is not None:
                row.company_name = input.company_name.strip()
            if input.plain_vowels_for_macrons is not None:
                row.plain_vowels_for_macrons = input.plain_vowels_for_macrons
        info.context.loaders.prime_company(row)
        return SettingsPayload(settings=Settings.from_row(row))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @coded_errors
    async def acknowledge_sms_failure_alert(self, info: Info) -> SmsFailureAlert:
        user, profile = info.context.require_user()
        require_show_sms_errors(profile)
        company = await info.context.require_sms_enabled()
        now = utcnow()
        async with info.context.sessions.begin() as session:
            session.add(AlertAcknowledgement(user_id=user.id, acknowledged_at=now))
            await session.flush()
            alert = await failure_alert(session, user.id, now, company.time_zone)
        return SmsFailureAlert.from_alert(alert)
