"""Who may do what: authentication for every field, and the profile's permissions."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from strawberry.permission import BasePermission

from models import Profile
from models.enums import FieldVisibility
from models.errors import DomainError, ErrorCode
from schema.errors import query_error


class IsAuthenticated(BasePermission):
    message = "Sign in first: no or invalid bearer token."
    error_extensions = {"code": ErrorCode.UNAUTHENTICATED.value}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return info.context.user is not None


def denied(message: str) -> DomainError:
    return DomainError(ErrorCode.PERMISSION_DENIED, message)


def require_admin(profile: Profile) -> None:
    if not profile.global_administrator:
        raise denied("Only a Global Administrator can do that.")


def require_edit_contact(profile: Profile) -> None:
    if not profile.edit_contact:
        raise denied("Your profile does not allow editing contacts.")


def require_send_sms(profile: Profile) -> None:
    if not profile.send_sms_to_client:
        raise denied("Your profile does not allow sending SMS to clients.")


def require_show_sms_errors(profile: Profile) -> None:
    if not profile.show_sms_errors:
        raise denied("Your profile does not show SMS errors.")


def require_visible(visibility: FieldVisibility, label: str) -> None:
    if visibility is not FieldVisibility.VISIBLE:
        raise denied(f"The {label} field is not editable in your form layout.")


P = ParamSpec("P")
R = TypeVar("R")


def coded_errors(resolver: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Queries answer a refused rule with a GraphQL error carrying its code, never with data."""

    @functools.wraps(resolver)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await resolver(*args, **kwargs)
        except DomainError as error:
            raise query_error(error) from None

    return run
