"""The log, through the set-up every command uses (api.logs): JSON lines that carry the request or
job id, a line for each status change, refusals as one line with their code, tracebacks only for
the unexpected, the log provider's texts, and never a password, token or signature."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import socket
from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
import websockets
from sqlmodel import select

import schema.mutations.sending
from api import logs
from api.app import Services, create_app
from jobs.worker import build_worker
from models import Appointment, ReminderEvent, SmsMessage
from models.channels import SEND_SMS_JOB
from tests.conftest import DEMO_LOGINS, LOGIN
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, signed_form

PUBLIC = "https://sms.example.com"
SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id status } errors { code field } }
}
"""
ME = "query Me { me { email } }"
RUN = "mutation Run($id: ID!) { runReminderEvent(id: $id) { affectedCount errors { code } } }"
TEXT = "Your technician Aroha is on her way."

Lines = Callable[[], list[dict]]


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    """Everything logged, as `timetrak-sms` formats it with LOG_FORMAT=json; each line must be
    one JSON object."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure("json", "INFO", stream)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
async def app(services: Services, twilio_settings):
    return create_app(services=Services(twilio_settings, services.engine, services.sessions,
                                        services.queue, services.feed))


@pytest.fixture
async def http(app, demo):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        yield client


async def graphql(http: httpx.AsyncClient, query: str, variables: dict | None = None,
                  token: str | None = None, request_id: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    response = await http.post("/graphql", json={"query": query, "variables": variables or {}},
                               headers=headers)
    assert response.status_code == 200, response.text
    return response


async def sign_in(http: httpx.AsyncClient, who: str = "admin") -> str:
    email, password = DEMO_LOGINS[who]
    body = (await graphql(http, LOGIN, {"email": email, "password": password})).json()
    return body["data"]["login"]["token"]


async def send(http: httpx.AsyncClient, token: str, demo, request_id: str | None = None) -> int:
    """A manual send about the first appointment whose contact can receive; its message id."""
    async with demo() as session:
        appointments = (await session.exec(select(Appointment.id).order_by(Appointment.id))).all()
    for appointment in appointments:
        response = await graphql(http, SEND, {"input": {"appointmentId": str(appointment),
                                                        "body": TEXT}}, token, request_id)
        payload = response.json()["data"]["sendSms"]
        if not payload["errors"]:
            return int(payload["message"]["id"])
    raise AssertionError("no appointment to send about")


def about(lines: list[dict], text: str) -> list[dict]:
    return [line for line in lines if text in line["message"]]


async def run_worker(settings, **ctx) -> None:
    """The worker as deployed (SteadyWorker), in burst mode, until the queue is empty."""
    worker = build_worker(settings, burst=True, handle_signals=False, poll_delay=0.05,
                          ctx={"settings": settings, **ctx})
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_each_line_a_request_causes_carries_its_id_and_the_answer_says_it(
        http, demo, log_lines):
    # Given a signed-in user
    token = await sign_in(http)

    # When they send with an id of their own, and without one
    given = "app-7Hq2/req:0001"
    mine = await send(http, token, demo, request_id=given)
    response = await graphql(http, ME, token=token)
    insane = await graphql(http, ME, token=token, request_id="spaces and\nnewlines")

    # Then every line is JSON, the send's line carries the given id, and each answer names its id
    lines = log_lines()
    [queued] = about(lines, f"message {mine} QUEUED (APP)")
    assert queued["request_id"] == given
    assert queued["message_id"] == mine and queued["status"] == "QUEUED"
    assert queued["logger"] == "timetrak_sms.messages" and queued["level"] == "INFO"
    made = response.headers["x-request-id"]
    assert len(made) == 16 and made != given
    assert insane.headers["x-request-id"] not in ("spaces and\nnewlines", made)


async def test_each_line_a_job_causes_carries_the_job_id(
        http, demo, log_lines, twilio_settings, twilio):
    # Given a message queued by a send
    token = await sign_in(http)
    message = await send(http, token, demo)

    # When the worker sends it
    await run_worker(twilio_settings)

    # Then its SENDING and SENT lines, and arq's own, carry the send job's id
    lines = log_lines()
    job = f"{SEND_SMS_JOB}:{message}"
    [sending] = about(lines, f"message {message} SENDING (attempt 1)")
    [sent] = about(lines, f"message {message} SENT (provider id SM")
    assert sending["job_id"] == sent["job_id"] == job
    assert sent["provider_message_id"].startswith("SM")
    assert any(line["logger"] == "arq.worker" and line.get("job_id") == job for line in lines)
    assert "request_id" not in sent
    [started] = about(lines, "worker started: database ")
    assert "twilio" in started["message"]


async def test_the_log_provider_writes_each_message_and_it_is_delivered(
        http, demo, log_lines, settings):
    # Given a message queued with the log provider (the default)
    token = await sign_in(http)
    message = await send(http, token, demo)

    # When the worker "sends" it
    await run_worker(settings.model_copy(update={"sms_provider": "log"}))

    # Then the log has its text, and its way to DELIVERED
    lines = log_lines()
    [written] = [line for line in lines if line["logger"] == "timetrak_sms.sms"]
    assert written["message"].endswith(TEXT) and f"SMS {message} to +64" in written["message"]
    assert about(lines, f"message {message} DELIVERED")


async def test_a_delivery_callback_and_a_failure_leave_a_line_each(
        http, demo, log_lines, twilio_settings, twilio):
    token = await sign_in(http)
    message = await send(http, token, demo)
    await run_worker(twilio_settings)
    sid = about(log_lines(), f"message {message} SENT")[0]["provider_message_id"]

    # When Twilio says it was not delivered
    path = f"/webhooks/twilio/status?message_id={message}"
    form = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003",
            "AccountSid": ACCOUNT_SID}
    response = await http.post(path, content=urlencode(form),
                               headers={**signed_form(PUBLIC + path, form),
                                        "X-Request-ID": "twilio-callback-1"})
    assert response.status_code == 204

    # Then one line says so, with the code and the reason, under the callback's request id
    [failed] = about(log_lines(), f"message {message} FAILED: 30003 ")
    assert failed["error_code"] == "30003" and failed["request_id"] == "twilio-callback-1"


async def test_a_reminder_run_leaves_one_line_with_its_counts(http, demo, log_lines):
    token = await sign_in(http)
    async with demo() as session:
        event = (await session.exec(select(ReminderEvent.id))).first()

    await graphql(http, RUN, {"id": str(event)}, token)

    [run] = about(log_lines(), f"reminder event {event} ran for ")
    assert run["queued"] + run["failed"] >= 0 and run["seconds"] >= 0
    assert f": {run['queued']} queued, {run['failed']} failed" in run["message"]


async def test_each_refused_webhook_says_why(http, demo, log_lines):
    path = "/webhooks/twilio/status"
    form = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
    cases = {
        "no X-Twilio-Signature": {"Content-Type": "application/x-www-form-urlencoded"},
        "the signature is wrong for https://sms.example.com/webhooks/twilio/status":
            signed_form(PUBLIC + path, form, auth_token="another-token"),
        "signed for http://test/webhooks/twilio/status, not for https://sms.example.com/":
            signed_form("http://test" + path, form),
    }
    for headers in cases.values():
        response = await http.post(path, content=urlencode(form), headers=headers)
        assert response.status_code == 403
    other = {**form, "AccountSid": "AC" + "9" * 32}
    response = await http.post(path, content=urlencode(other),
                               headers=signed_form(PUBLIC + path, other))
    assert response.status_code == 403

    refusals = about(log_lines(), "webhook /webhooks/twilio/status refused (403): ")
    assert len(refusals) == 4
    for why in [*cases, "signed, but for another account"]:
        assert any(why in line["message"] for line in refusals), why


async def test_a_refusal_is_one_info_line_with_its_code_and_only_the_unexpected_has_a_traceback(
        http, demo, log_lines, monkeypatch):
    token = await sign_in(http)
    # Refused: no token (a query's coded error), and an empty message (a mutation's UserError)
    await graphql(http, ME)
    async with demo() as session:
        appointment = (await session.exec(select(Appointment.id))).first()
    await graphql(http, SEND, {"input": {"appointmentId": str(appointment), "body": ""}}, token)
    refused = log_lines()
    # The database away for a moment, and a bug
    monkeypatch.setattr(schema.mutations.sending, "queue_manual_sms", away)
    await graphql(http, SEND, {"input": {"appointmentId": str(appointment), "body": TEXT}}, token)
    monkeypatch.setattr(schema.mutations.sending, "queue_manual_sms", broken)
    await graphql(http, SEND, {"input": {"appointmentId": str(appointment), "body": TEXT}}, token)

    lines = log_lines()
    [unauthenticated] = about(refused, "Me: UNAUTHENTICATED at me")
    [empty] = about(refused, "send_sms refused: MESSAGE_EMPTY (field body)")
    [outage] = about(lines, "Send: SERVICE_UNAVAILABLE at sendSms")
    [bug] = about(lines, "Send: unexpected error at sendSms")
    assert (unauthenticated["level"], empty["level"]) == ("INFO", "INFO")
    assert outage["level"] == "WARNING"
    assert bug["level"] == "ERROR" and "RuntimeError: a bug" in bug["exception"]
    assert [line for line in lines if "exception" in line] == [bug]


async def away(*args, **kwargs):
    raise ConnectionRefusedError("the database is away")


async def broken(*args, **kwargs):
    raise RuntimeError("a bug")


@pytest.mark.parametrize("format", ["json", "text"])
async def test_no_password_token_or_signature_reaches_the_log(
        format, http, demo, twilio_settings, twilio):
    # Given everything logged, as `timetrak-sms` logs it
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure(format, "INFO", stream)
    try:
        # When a user signs in, fails to, sends, and the message goes to Twilio and is called back
        email, password = DEMO_LOGINS["admin"]
        wrong = await graphql(http, LOGIN, {"email": email, "password": password + "-typo"})
        assert wrong.json()["data"]["login"]["token"] is None
        token = await sign_in(http)
        message = await send(http, token, demo)
        await graphql(http, "{ me { email } }", token=token + "-forged")
        await run_worker(twilio_settings)
        path = f"/webhooks/twilio/status?message_id={message}"
        async with demo() as session:
            sid = (await session.get(SmsMessage, message)).provider_message_id
        form = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
        headers = signed_form(PUBLIC + path, form)
        assert (await http.post(path, content=urlencode(form), headers=headers)).status_code == 204
        forged = signed_form(PUBLIC + path, form, auth_token="not-the-token")
        assert (await http.post(path, content=urlencode(form), headers=forged)).status_code == 403
    finally:
        root.removeHandler(handler)
        root.setLevel(level)

    # Then the log tells the story without any of the secrets
    output = stream.getvalue()
    assert f"message {message} DELIVERED" in output and "sign-in refused" in output
    for secret in (password, token, AUTH_TOKEN, headers["X-Twilio-Signature"],
                   forged["X-Twilio-Signature"], "Bearer "):
        assert secret not in output, secret


@pytest.mark.parametrize("format", ["json", "text"])
def test_a_served_request_is_logged_without_its_query_string(format, monkeypatch):
    # Given everything logged, as `timetrak-sms serve` logs it (uvicorn without a log config of
    # its own; the fake Twilio's server, in this process, gives uvicorn's loggers one)
    for logger in (logging.getLogger("uvicorn"), logging.getLogger("uvicorn.access")):
        for name, value in (("propagate", True), ("level", logging.NOTSET), ("handlers", [])):
            monkeypatch.setattr(logger, name, value)
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure(format, "INFO", stream)
    try:
        # When uvicorn logs a GET that carries a login in its query string, as it logs each request
        path = '/graphql?query=mutation{login(input:{password:"admin-demo-password"})}'
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET", path, "1.1", 400)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)

    # Then the line names the path and the answer, not the query
    output = stream.getvalue()
    line = json.loads(output)["message"] if format == "json" else output
    assert '"GET /graphql HTTP/1.1" 400' in line
    assert "admin-demo-password" not in output and "query=" not in output


async def test_each_operation_on_a_websocket_has_an_id_of_its_own_within_the_connections(
        app, demo, log_lines):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    served = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_config=None))
    task = asyncio.create_task(served.serve())
    try:
        while not served.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            token = await sign_in(http)
        # When one connection runs two operations the rules refuse
        async with websockets.connect(f"ws://127.0.0.1:{port}/graphql",
                                      subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init",
                                      "payload": {"Authorization": f"Bearer {token}"}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            for operation in ("1", "2"):
                await ws.send(json.dumps({"id": operation, "type": "subscribe", "payload": {
                    "query": "query Missing { appointment(id: \"nope\") { id } }"}}))
                while json.loads(await ws.recv())["type"] != "complete":
                    pass
    finally:
        served.should_exit = True
        await asyncio.wait_for(task, 5)

    # Then each refusal carries the connection's id and one of the operation's own
    refusals = about(log_lines(), "Missing: INVALID_INPUT at appointment")
    ids = [line["request_id"] for line in refusals]
    assert len(ids) == 2 and ids[0] != ids[1], ids
    connection = {i.split("/")[0] for i in ids}
    assert len(connection) == 1 and all(re.fullmatch(r"[0-9a-f]{16}/[0-9a-f]{8}", i) for i in ids)
