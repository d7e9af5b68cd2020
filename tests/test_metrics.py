"""/metrics in Prometheus' format: each process counts the statuses it moved messages to (the API
what it queued and what Twilio's callbacks settled, a separate worker what it sent, on its
--metrics-port), the queue's depth at scrape time, operation and sign-in counts, and
METRICS_TOKEN guarding both."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select, update

from api.app import Services, create_app
from api.metrics import WorkerMetrics
from models import Appointment, ReminderEvent, SmsMessage
from models.enums import SmsStatus
from schema import operations
from tests.conftest import DEMO_LOGINS, LOGIN
from tests.fake_twilio import ACCOUNT_SID, signed_form
from tests.postgres_cluster import free_port
from tests.worker_process import WorkerProcess, eventually, statuses

PUBLIC = "https://sms.example.com"
SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id status } errors { code } }
}
"""
RUN = "mutation Run($id: ID!) { runReminderEvent(id: $id) { affectedCount errors { code } } }"
TOKEN = "scrape-token-5f0c2a"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def messages(samples: Samples, status: str, source: str = "APP") -> float:
    return value(samples, "timetrak_sms_messages_total", status=status, source=source)


def with_settings(services: Services, **changes) -> Services:
    return Services(services.settings.model_copy(update=changes), services.engine,
                    services.sessions, services.queue, services.feed)


@pytest.fixture
def app_for(services: Services):
    """An httpx client for the app with these settings: `async with app_for(s) as http`."""

    def make(settings_services: Services) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(
            services=settings_services)), base_url="http://test")

    return make


async def scrape(http: httpx.AsyncClient, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def sign_in(http: httpx.AsyncClient, who: str = "admin", password: str | None = None):
    email, right = DEMO_LOGINS[who]
    response = await http.post("/graphql", json={"query": LOGIN, "variables": {
        "email": email, "password": password or right}})
    return response.json()["data"]["login"]


async def send(http: httpx.AsyncClient, token: str, demo) -> int:
    async with demo() as session:
        appointments = (await session.exec(select(Appointment.id).order_by(Appointment.id))).all()
    for appointment in appointments:
        response = await http.post("/graphql", headers={"Authorization": f"Bearer {token}"},
                                   json={"query": SEND, "variables": {"input": {
                                       "appointmentId": str(appointment),
                                       "body": "On our way."}}})
        payload = response.json()["data"]["sendSms"]
        if not payload["errors"]:
            return int(payload["message"]["id"])
    raise AssertionError("no appointment to send about")


async def test_each_process_counts_the_statuses_it_moved_a_message_to(
        services, twilio_settings, twilio, demo, app_for, redis_url, tmp_path):
    # Given the API, and a worker of its own with its metrics on a port; the demo's reminder
    # event switched off, so that its run, due at some hours, sends nothing of its own
    async with demo.begin() as session:
        await session.execute(update(ReminderEvent).values(enabled=False))
    api = with_settings(services, **{k: getattr(twilio_settings, k) for k in (
        "sms_provider", "twilio_account_sid", "twilio_auth_token", "twilio_from_number",
        "twilio_api_base", "public_base_url")})
    port = free_port()
    worker = WorkerProcess(services.settings, redis_url, twilio.base_url, tmp_path,
                           options=("--metrics-port", str(port)), LOG_FORMAT="json")
    try:
        async with app_for(api) as http, httpx.AsyncClient() as scraper:
            worker_metrics = f"http://127.0.0.1:{port}/metrics"

            async def worker_samples() -> Samples:
                response = await scraper.get(worker_metrics)
                assert response.status_code == 200, response.text
                return parse(response.text)

            async def worker_answers() -> bool:
                try:
                    await scraper.get(worker_metrics)
                except httpx.TransportError:
                    return False
                return True

            await eventually(worker_answers, 30, f"the worker's metrics\n{worker.output()}")
            before, worker_before = await scrape(http), await worker_samples()
            token = (await sign_in(http))["token"]

            # When a message is sent through the worker, and Twilio calls back "delivered"
            message = await send(http, token, demo)
            queued = await scrape(http)
            await eventually(lambda: sent(services, message), 30, f"message {message} sent")
            sent_in_worker = await worker_samples()
            async with services.sessions() as session:
                sid = (await session.get(SmsMessage, message)).provider_message_id
            path = f"/webhooks/twilio/status?message_id={message}"
            form = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
            callback = await http.post(path, content=urlencode(form),
                                       headers=signed_form(PUBLIC + path, form))
            assert callback.status_code == 204
            after = await scrape(http)

        # Then the API counted QUEUED and DELIVERED, the worker SENDING and SENT
        assert messages(queued, "QUEUED") - messages(before, "QUEUED") == 1
        assert value(queued, "timetrak_sms_queue_depth") >= 1
        assert messages(after, "DELIVERED") - messages(before, "DELIVERED") == 1
        assert messages(after, "SENT") == messages(before, "SENT")
        for status in ("SENDING", "SENT"):
            assert messages(sent_in_worker, status) - messages(worker_before, status) == 1
        assert messages(sent_in_worker, "QUEUED") == messages(sent_in_worker, "DELIVERED") == 0
        # One request per message the worker moved to SENT, whatever its source: the demo's
        # reminder event may be due at the hour the test runs, and its messages go too.
        sent_requests = [value(samples, "timetrak_sms_provider_request_seconds_count",
                               outcome="sent") for samples in (worker_before, sent_in_worker)]
        sent_messages = [sum(v for (name, labels), v in samples.items()
                             if name == "timetrak_sms_messages_total"
                             and ("status", "SENT") in labels)
                         for samples in (worker_before, sent_in_worker)]
        assert sent_requests[1] - sent_requests[0] == sent_messages[1] - sent_messages[0] >= 1
        assert ("timetrak_sms_queue_depth", ()) not in sent_in_worker
        assert value(after, "timetrak_sms_queue_depth") == 0

        # And the worker's log is JSON, each line of the send carrying its job's id
        lines = [json.loads(line) for line in worker.output().splitlines()]
        sent_line = next(line for line in lines if line["message"].startswith(
            f"message {message} SENT"))
        assert sent_line["job_id"] == f"send_sms:{message}"
    finally:
        assert worker.stop() == 0, worker.output()


async def sent(services: Services, message: int) -> bool:
    return (await statuses(services.sessions, [message])) == {message: SmsStatus.SENT}


@pytest.mark.parametrize("environment", ["production", "test"])
async def test_metrics_token_is_needed_when_it_is_set(services, app_for, environment):
    guarded = with_settings(services, environment=environment, metrics_token=TOKEN)
    async with app_for(guarded) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = await http.get("/metrics", headers=headers)
            assert response.status_code == 401, headers
            assert TOKEN not in response.text
        await scrape(http, TOKEN)

    server = WorkerMetrics(guarded.settings, "127.0.0.1", 0).start()
    try:
        async with httpx.AsyncClient() as scraper:
            assert (await scraper.get(server.address)).status_code == 401
            response = await scraper.get(server.address,
                                         headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 200
            assert "timetrak_sms_messages_total" in response.text
    finally:
        server.stop()


async def test_without_a_token_production_metrics_are_open(services, app_for):
    async with app_for(with_settings(services, environment="production")) as http:
        assert "timetrak_login_failures_total" in {name for name, _ in await scrape(http)}


async def test_operations_are_timed_by_name_and_sign_in_failures_counted_by_reason(
        services, demo, app_for):
    limited = with_settings(services, sign_in_failures_per_email=2)
    async with app_for(limited) as http:
        before = await scrape(http)
        token = (await sign_in(http))["token"]
        await http.post("/graphql", headers={"Authorization": f"Bearer {token}"},
                        json={"query": "query Me { me { id } }"})
        await http.post("/graphql", headers={"Authorization": f"Bearer {token}"},
                        json={"query": "{ me { id } }"})
        for _ in range(3):  # two wrong passwords, then refused without a check
            login = await sign_in(http, "tech", password="not-the-password")
            assert login["token"] is None
        after = await scrape(http)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    count = "timetrak_graphql_request_seconds_count"
    assert grew(count, operation="Me") == 1
    assert grew(count, operation="anonymous") == 1
    assert grew(count, operation="Login") == 4
    assert grew("timetrak_login_failures_total", reason="wrong_password") == 2
    assert grew("timetrak_login_failures_total", reason="limited") == 1


async def test_each_reminder_run_is_timed(services, demo, app_for):
    async with demo() as session:
        event = (await session.exec(select(ReminderEvent.id))).first()
    async with app_for(services) as http:
        before = await scrape(http)
        token = (await sign_in(http))["token"]
        response = await http.post("/graphql", headers={"Authorization": f"Bearer {token}"},
                                   json={"query": RUN, "variables": {"id": str(event)}})
        assert response.json()["data"]["runReminderEvent"]["errors"] == []
        after = await scrape(http)

    count, total = "timetrak_reminder_run_seconds_count", "timetrak_reminder_run_seconds_sum"
    assert value(after, count) - value(before, count) == 1
    assert value(after, total) > value(before, total)


def test_operation_names_beyond_the_first_few_hundred_are_other(monkeypatch):
    monkeypatch.setattr(operations, "_names", set())
    names = [f"Operation{i}" for i in range(operations.MOST_NAMES)]
    assert [operations.operation_label(name) for name in names] == names
    assert operations.operation_label("OneTooMany") == "other"
    assert operations.operation_label(names[0]) == names[0]
    assert operations.operation_label(None) == "anonymous"
