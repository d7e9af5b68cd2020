"""A stand-in for Twilio on 127.0.0.1: a real HTTP server speaking the Messages API.

It checks what Twilio checks (account, basic auth, To/From/Body), answers as Twilio
answers, and can be told to refuse, stall or vanish. It keeps the messages it created and
lists them as Twilio's Message list does (To, From and DateSent filters, pages, newest
first). It can also sign and send the status callbacks and inbound messages Twilio would
send to us.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlencode

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.webhooks import signature

ACCOUNT_SID = "AC" + "0" * 30 + "1"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
FROM_NUMBER = "+64210000000"


@dataclass
class Refusal:
    status: int
    code: int
    message: str


@dataclass
class FakeTwilio:
    received: list[dict[str, str]] = field(default_factory=list)
    # The Message resources it created, oldest first, as Twilio's list shows them.
    messages: list[dict] = field(default_factory=list)
    # When each was created (time.time(), finer than Twilio's dates), by sid.
    made_at: dict[str, float] = field(default_factory=dict)
    refuse: Refusal | None = None
    # Seconds to wait before answering (longer than the client's timeout = "timed out").
    delay: float = 0.0
    # HTTP status to answer with instead of 201 (e.g. 500 or 429).
    status: int | None = None
    # When set, one To number in this many (by its digits) is refused as not a valid number.
    refuse_one_in: int | None = None
    # When set, Twilio's "sent" and "delivered" status callbacks follow each accepted message
    # after this many seconds, signed, to the StatusCallback URL it carried.
    callback_after: float | None = None
    port: int = 0
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _callbacks: set = field(default_factory=set)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def authenticated(self, request: Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        return (request.path_params["sid"] == ACCOUNT_SID
                and request.headers.get("authorization") == expected)

    async def create(self, request: Request):
        if not self.authenticated(request):
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401},
                                status_code=401)
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if self.delay:
            await asyncio.sleep(self.delay)
        self.received.append(form)
        if self.status is not None:
            return JSONResponse({"code": 20500, "message": "Internal error",
                                 "status": self.status}, status_code=self.status)
        if self.refuse is not None:
            return JSONResponse({"code": self.refuse.code, "message": self.refuse.message,
                                 "more_info": f"https://www.twilio.com/docs/errors/{self.refuse.code}",
                                 "status": self.refuse.status}, status_code=self.refuse.status)
        digits = form.get("To", "").lstrip("+")
        if self.refuse_one_in and digits.isdigit() and int(digits) % self.refuse_one_in == 0:
            return JSONResponse({"code": 21211, "status": 400,
                                 "message": f"The 'To' number {form['To']} is not valid.",
                                 "more_info": "https://www.twilio.com/docs/errors/21211"},
                                status_code=400)
        for name, code in (("To", 21604), ("From", 21603), ("Body", 21602)):
            if not form.get(name):
                return JSONResponse({"code": code, "message": f"A '{name}' is required.",
                                     "status": 400}, status_code=400)
        message = self.created(form)
        if self.callback_after is not None and form.get("StatusCallback"):
            task = asyncio.get_running_loop().create_task(
                self.call_back(form["StatusCallback"], message))
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)
        return JSONResponse(message, status_code=201)

    def created(self, form: dict[str, str]) -> dict:
        """A new Message resource, as Twilio answers a create and lists it after."""
        sid = f"SM{next(self._ids):032x}"
        now = format_datetime(datetime.now(UTC))
        message = {
            "account_sid": ACCOUNT_SID, "api_version": "2010-04-01", "body": form["Body"],
            "date_created": now, "date_sent": None, "date_updated": now,
            "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": form["From"], "messaging_service_sid": None, "num_media": "0",
            "num_segments": "1", "price": None, "price_unit": "USD", "sid": sid,
            "status": "queued", "to": form["To"],
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media.json"},
        }
        self.messages.append(message)
        self.made_at[sid] = time.time()
        return dict(message)

    def progress(self, message: dict, status: str) -> None:
        now = format_datetime(datetime.now(UTC))
        message["status"], message["date_updated"] = status, now
        if status in ("sent", "delivered", "undelivered") and message["date_sent"] is None:
            message["date_sent"] = now

    async def listing(self, request: Request):
        """GET Messages.json: To, From and DateSent (=, <=, >= a GMT date) filters, newest first,
        PageSize (50 by default, at most 1000) and Page, with next_page_uri."""
        if not self.authenticated(request):
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401},
                                status_code=401)
        query = request.query_params
        try:
            size = min(int(query.get("PageSize", 50)), 1000)
            page = int(query.get("Page", 0))
            days = {op: date.fromisoformat(query[key]) for key, op in
                    (("DateSent", "="), ("DateSent<", "<="), ("DateSent>", ">=")) if key in query}
        except ValueError:
            return JSONResponse({"code": 20001, "message": "Invalid parameter", "status": 400},
                                status_code=400)
        chosen = [m for m in reversed(self.messages)
                  if query.get("To") in (None, m["to"]) and query.get("From") in (None, m["from"])
                  and sent_on(m, days)]
        path = request.url.path
        filters = [(k, v) for k, v in query.multi_items() if k not in ("Page", "PageSize")]

        def uri(number: int) -> str:
            return f"{path}?{urlencode([*filters, ('PageSize', size), ('Page', number)])}"

        more = len(chosen) > (page + 1) * size
        return JSONResponse({
            "messages": chosen[page * size:(page + 1) * size], "page": page, "page_size": size,
            "start": page * size, "end": page * size + len(chosen[page * size:(page + 1) * size]),
            "uri": uri(page), "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if more else None,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
        })

    async def call_back(self, url: str, message: dict) -> None:
        await asyncio.sleep(self.callback_after)
        async with httpx.AsyncClient(timeout=10) as client:
            for status in ("sent", "delivered"):
                self.progress(message, status)
                form = {"AccountSid": ACCOUNT_SID, "MessageSid": message["sid"],
                        "MessageStatus": status}
                try:
                    await client.post(url, data=form, headers=signed_form(url, form))
                except httpx.HTTPError:
                    return

    def app(self) -> Starlette:
        path = "/2010-04-01/Accounts/{sid}/Messages.json"
        return Starlette(routes=[Route(path, self.create, methods=["POST"]),
                                 Route(path, self.listing, methods=["GET"])])

    def start(self) -> FakeTwilio:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Twilio did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def sent_on(message: dict, days: dict[str, date]) -> bool:
    """Whether the message's date_sent meets the DateSent filters; unsent ones never do."""
    if not days:
        return True
    if message["date_sent"] is None:
        return False
    sent = datetime.strptime(message["date_sent"], "%a, %d %b %Y %H:%M:%S %z").date()
    return all({"=": sent == day, "<=": sent <= day, ">=": sent >= day}[op]
               for op, day in days.items())


def signed_form(url: str, form: dict[str, str], auth_token: str = AUTH_TOKEN) -> dict[str, str]:
    """Headers Twilio would send with `form` posted to `url`."""
    return {"X-Twilio-Signature": signature(auth_token, url, list(form.items())),
            "Content-Type": "application/x-www-form-urlencoded"}


def closed_port() -> int:
    """A port nothing listens on: connecting fails at once, as with Twilio unreachable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
