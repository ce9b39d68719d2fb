"""Reading a request body with a hard cap, without ever reading past it."""

from __future__ import annotations

from starlette.requests import Request

from core.errors import InvalidInputError, PayloadTooLargeError


async def read_capped(request: Request, cap: int) -> bytes:
    """The raw (still compressed) body; 413 as soon as it is known to exceed ``cap``.

    A declared ``Content-Length`` over the cap is refused before any byte is read; a chunked
    body is refused at the first chunk that crosses the cap.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise InvalidInputError("Content-Length is not a number")
        if int(declared) > cap:
            raise PayloadTooLargeError(f"body is over {cap} bytes")
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > cap:
            raise PayloadTooLargeError(f"body is over {cap} bytes")
    return bytes(received)
