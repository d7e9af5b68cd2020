"""Live message updates over graphql-transport-ws."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from schema.context import Info
from schema.messages import SmsMessage
from schema.permissions import IsAuthenticated


@strawberry.type
class Subscription:
    @strawberry.subscription(permission_classes=[IsAuthenticated],
                             description="Each SMS that fails to send, as it fails; users with "
                             "Show SMS Errors only.")
    async def sms_failures(self, info: Info) -> AsyncGenerator[SmsMessage, None]:
        return
        yield

    @strawberry.subscription(permission_classes=[IsAuthenticated],
                             description="Status changes of messages, optionally of one "
                             "appointment.")
    async def sms_status_changed(
        self, info: Info, appointment_id: strawberry.ID | None = None
    ) -> AsyncGenerator[SmsMessage, None]:
        return
        yield
