"""Bearer-token authentication for HTTP requests and websocket connections."""

from __future__ import annotations

from collections.abc import Callable

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from models import GlobalSettings, Profile, User
from models.accounts import TOKEN_DIGEST_SCOPE_KEY, token_digest, user_for_token
from models.db import Sessions
from models.outages import is_outage
from schema.outages import UNAVAILABLE, UNAVAILABLE_CODE


class SignedInUser(BaseUser):
    def __init__(self, user: User, profile: Profile, company: GlobalSettings | None = None):
        self.user = user
        self.profile = profile
        # As read with the token, for the request it came with (None: no settings saved yet).
        self.company = company

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.user.name


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def signed_in(sessions: Sessions, token: str | None) -> SignedInUser | None:
    if not token or len(token) > 512:
        return None
    try:
        async with sessions() as session:
            found = await user_for_token(session, token)
    except Exception as error:
        if is_outage(error):
            raise AuthenticationError(UNAVAILABLE) from error
        raise
    return SignedInUser(*found) if found else None


def unavailable(conn: HTTPConnection, error: AuthenticationError) -> JSONResponse:
    """The sign-in lookup itself could not reach the database."""
    body = {
        "data": None,
        "errors": [{"message": str(error), "extensions": {"code": UNAVAILABLE_CODE}}],
    }
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


class BearerTokenBackend(AuthenticationBackend):
    """A missing or bad token leaves the request anonymous; GraphQL then answers UNAUTHENTICATED."""

    def __init__(self, sessions: Callable[[], Sessions]):
        self.sessions = sessions

    async def authenticate(self, conn: HTTPConnection):
        token = bearer_token(conn.headers.get("authorization"))
        user = await signed_in(self.sessions(), token)
        if user is None:
            return None
        conn.scope[TOKEN_DIGEST_SCOPE_KEY] = token_digest(token)
        return AuthCredentials(["authenticated"]), user
