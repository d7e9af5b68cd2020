"""Signing in, bearer tokens and the UNAUTHENTICATED answer."""

from __future__ import annotations

import pytest

ME = "{ me { email name profile { globalAdministrator } } }"


@pytest.mark.parametrize("who,email,admin", [
    ("admin", "admin@example.com", True),
    ("office", "office@example.com", False),
    ("tech", "tech@example.com", False),
])
async def test_each_demo_user_signs_in_and_sees_themself(anonymous, who, email, admin):
    api = await anonymous.login(who)

    data = await api.ok(ME)

    assert data["me"]["email"] == email
    assert data["me"]["profile"]["globalAdministrator"] is admin


async def test_wrong_password_is_refused_with_no_token(anonymous):
    body = await anonymous.post(
        "mutation { login(input: {email: \"admin@example.com\", password: \"nope\"}) "
        "{ token errors { code field } } }")

    assert body["data"]["login"] == {"token": None,
                                     "errors": [{"code": "UNAUTHENTICATED", "field": "password"}]}


@pytest.mark.parametrize("token", [None, "not-a-token", "x" * 600])
async def test_missing_or_bad_token_is_unauthenticated(anonymous, token):
    body = await anonymous.post(ME, token=token)

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_mutations_need_a_token_too(anonymous):
    body = await anonymous.post('mutation { updateSettings(input: {smsEnabled: false}) '
                                '{ errors { code } } }')

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_tokens_are_stored_hashed(admin, demo):
    from sqlmodel import select

    from models import AuthToken

    async with demo() as session:
        stored = (await session.exec(select(AuthToken.token_hash))).all()

    assert admin.token not in stored
    assert len(stored) == 1 and len(stored[0]) == 64
