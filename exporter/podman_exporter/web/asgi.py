"""ASGI types and the small response helpers every web module shares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    *,
    headers: tuple[tuple[bytes, bytes], ...] = (),
    head: bool = False,
) -> None:
    """Send a complete response (headers only for HEAD).

    Returns once the body has left the server's buffers (the last, empty message waits
    for the transport to drain): a client that does not read keeps its request in
    flight, so ``--web.max-requests`` counts it.
    """
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    })
    if head or not body:
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.body", "body": body, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def header(scope: Scope, name: bytes) -> str:
    """Return a request header's value ("" when absent); repeated headers are joined."""
    values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == name]
    return ", ".join(values)
