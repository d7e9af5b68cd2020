"""The SQLite file out of reach under the app (its folder moved away): 503s and
SERVICE_UNAVAILABLE, never a 500, and Twilio's retried callback recorded once it is back."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import httpx
from sqlmodel import select

import migrations
from api.app import Services, create_app
from models import SmsMessage
from models.db import create_engine, session_factory
from models.demo import seed_demo
from models.enums import SmsSource, SmsStatus
from tests.conftest import LOGIN
from tests.fake_twilio import ACCOUNT_SID, signed_form

PUBLIC = "https://sms.example.com"
ME = "{ me { email } }"


async def test_a_sqlite_folder_moved_away_answers_unavailable_then_recovers(
    tmp_path, services, twilio_settings
):
    # Given the app on its own SQLite file, a signed-in admin and a sent message
    folder = tmp_path / "data"
    folder.mkdir()
    url = f"sqlite:///{folder / 'service.db'}"
    await asyncio.to_thread(migrations.upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    await seed_demo(sessions)
    async with sessions.begin() as session:
        message = SmsMessage(
            to_number="+64215550111",
            body="Hello",
            source=SmsSource.APP,
            status=SmsStatus.SENT,
            provider_message_id="SM" + "9" * 32,
        )
        session.add(message)
    settings = twilio_settings.model_copy(update={"database_url": url})
    app = create_app(services=Services(settings, engine, sessions, services.queue))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    path = f"/webhooks/twilio/status?message_id={message.id}"
    callback = {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": "SM" + "9" * 32,
        "MessageStatus": "delivered",
    }
    credentials = {"email": "admin@example.com", "password": "admin-demo-password"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        login = await http.post("/graphql", json={"query": LOGIN, "variables": credentials})
        auth = {"Authorization": f"Bearer {login.json()['data']['login']['token']}"}

        # When its folder is moved away and the pool opens the file afresh
        folder.rename(tmp_path / "elsewhere")
        await engine.dispose()
        me = await http.post("/graphql", json={"query": ME}, headers=auth)
        again = await http.post("/graphql", json={"query": LOGIN, "variables": credentials})
        status = await http.post(
            path, content=urlencode(callback), headers=signed_form(PUBLIC + path, callback)
        )

        # Then: 503 at sign-in and for Twilio, SERVICE_UNAVAILABLE from GraphQL
        assert me.status_code == 503
        assert me.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert again.status_code == 200
        assert again.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert status.status_code == 503

        # And once it is back, the same callback sent again is recorded
        (tmp_path / "elsewhere").rename(folder)
        replayed = await http.post(
            path, content=urlencode(callback), headers=signed_form(PUBLIC + path, callback)
        )
        assert replayed.status_code == 204
        assert (await http.post("/graphql", json={"query": ME}, headers=auth)).status_code == 200
    async with sessions() as session:
        row = (await session.exec(select(SmsMessage).where(SmsMessage.id == message.id))).one()
    assert row.status is SmsStatus.DELIVERED
    await engine.dispose()
