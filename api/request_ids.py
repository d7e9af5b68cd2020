"""An id for each HTTP request and websocket connection, on every log line it causes and in the
response's X-Request-ID header; a client's own X-Request-ID is kept when it is plain enough."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.log_context import bound, new_request_id, request_id, sane_request_id

HEADER = b"x-request-id"


class RequestIds:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER)
        rid = sane_request_id(given.decode("latin-1") if given else None) or new_request_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message["headers"] = [*message.get("headers", ()), (HEADER, rid.encode())]
            await send(message)

        with bound(request_id, rid):
            await self.app(scope, receive, send_with_id)
