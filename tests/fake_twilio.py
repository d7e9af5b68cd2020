"""A stand-in for Twilio on 127.0.0.1: a real HTTP server speaking the Messages API.

It checks what Twilio checks (account, basic auth, To/From/Body), answers as Twilio
answers, and can be told to refuse, stall or vanish. It can also sign and send the
status callbacks and inbound messages Twilio would send to us.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

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
    refuse: Refusal | None = None
    # Seconds to wait before answering (longer than the client's timeout = "timed out").
    delay: float = 0.0
    # HTTP status to answer with instead of 201 (e.g. 500 or 429).
    status: int | None = None
    # When set, Twilio's "sent" and "delivered" status callbacks follow each accepted message
    # after this many seconds, signed, to the StatusCallback URL it carried.
    callback_after: float | None = None
    port: int = 0
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _callbacks: set = field(default_factory=set)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def messages(self, request: Request):
        sid = request.path_params["sid"]
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if sid != ACCOUNT_SID or request.headers.get("authorization") != expected:
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
        for name, code in (("To", 21604), ("From", 21603), ("Body", 21602)):
            if not form.get(name):
                return JSONResponse({"code": code, "message": f"A '{name}' is required.",
                                     "status": 400}, status_code=400)
        message_sid = f"SM{next(self._ids):032x}"
        if self.callback_after is not None and form.get("StatusCallback"):
            task = asyncio.get_running_loop().create_task(
                self.call_back(form["StatusCallback"], message_sid))
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)
        return JSONResponse({"sid": message_sid, "account_sid": ACCOUNT_SID, "to": form["To"],
                             "from": form["From"], "body": form["Body"], "status": "queued",
                             "num_segments": "1", "error_code": None}, status_code=201)

    async def call_back(self, url: str, message_sid: str) -> None:
        await asyncio.sleep(self.callback_after)
        async with httpx.AsyncClient(timeout=10) as client:
            for status in ("sent", "delivered"):
                form = {"AccountSid": ACCOUNT_SID, "MessageSid": message_sid,
                        "MessageStatus": status}
                try:
                    await client.post(url, data=form, headers=signed_form(url, form))
                except httpx.HTTPError:
                    return

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", self.messages,
                                       methods=["POST"])])

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


def signed_form(url: str, form: dict[str, str], auth_token: str = AUTH_TOKEN) -> dict[str, str]:
    """Headers Twilio would send with `form` posted to `url`."""
    return {"X-Twilio-Signature": signature(auth_token, url, list(form.items())),
            "Content-Type": "application/x-www-form-urlencoded"}


def closed_port() -> int:
    """A port nothing listens on: connecting fails at once, as with Twilio unreachable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
