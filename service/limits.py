"""Refuse request bodies over the configured size before they are parsed."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DRAIN_FACTOR = 8  # bodies up to this multiple of the limit are read and dropped so the client sees the 413


class BodySizeLimit:
    """Pure ASGI middleware. With a Content-Length the check is immediate; a chunked body is
    buffered up to the limit and refused as soon as it goes past it."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None:
            if declared > self.max_bytes:
                if declared <= DRAIN_FACTOR * self.max_bytes:
                    await _drain(receive)
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        buffered, too_large = await _buffer(receive, self.max_bytes)
        if too_large:
            await self._refuse(send)
            return
        await self.app(scope, _replay(buffered, receive), send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "detail": f"the request body is larger than the limit of {self.max_bytes} bytes",
                "code": "payload_too_large",
                "limit_bytes": self.max_bytes,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _buffer(receive: Receive, max_bytes: int) -> tuple[list[Message], bool]:
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, False
        size += len(message.get("body", b""))
        if size > max_bytes:
            return messages, True
        if not message.get("more_body", False):
            return messages, False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
