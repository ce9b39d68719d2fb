"""Outbound HTTP to user-configured URLs (webhooks, the LLM judge, replay endpoints).

A URL is checked when it is saved and again when it is used: the host is resolved, every
address must be public, and the request connects to the address that was checked, so a DNS
answer that changes in between (rebinding) cannot reach a private service.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from core.errors import InvalidInputError

#: The most of an answer's body read back (webhook receivers answer a few bytes).
MAX_RESPONSE_BYTES = 64 * 1024
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class OutboundURLError(InvalidInputError):
    """The URL is malformed or points at a private, loopback or link-local address."""


@dataclass(frozen=True, slots=True)
class CheckedURL:
    url: str
    host: str
    port: int
    address: str


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return not allow_loopback
    return (
        address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def check_url(url: str, *, allow_loopback: bool = False) -> CheckedURL:
    """Validate ``url`` and resolve it to a public address; OutboundURLError otherwise.

    ``allow_loopback`` exists for tests with a stub receiver on 127.0.0.1; private and
    link-local addresses are refused whatever it says.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise OutboundURLError(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise OutboundURLError("only http and https URLs are allowed")
    host = parts.hostname
    if not host:
        raise OutboundURLError("the URL has no host")
    if parts.username or parts.password:
        raise OutboundURLError("credentials in the URL are not allowed; use a header or secret")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise OutboundURLError(f"cannot resolve {host!r}: {exc}") from None
    addresses = {str(info[4][0]) for info in infos}
    if not addresses:
        raise OutboundURLError(f"{host!r} resolves to no address")
    for address in sorted(addresses):
        if _refused(ipaddress.ip_address(address.split("%", 1)[0]), allow_loopback):
            raise OutboundURLError(
                f"{host!r} resolves to {address}, a private, loopback or link-local address"
            )
    return CheckedURL(url=url, host=host, port=port, address=sorted(addresses)[0])


def post_json(
    url: str,
    payload: object,
    *,
    timeout_s: float = 10.0,
    headers: dict[str, str] | None = None,
    allow_loopback: bool = False,
) -> httpx.Response:
    """POST ``payload`` as JSON to ``url`` after checking it, connecting to the checked address.

    The Host header and TLS server name stay the URL's host, so certificates still verify.
    Raises OutboundURLError for a refused URL and httpx errors for transport failures.
    """
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return post_bytes(
        url,
        body,
        timeout_s=timeout_s,
        headers={"Content-Type": "application/json", **(headers or {})},
        allow_loopback=allow_loopback,
    )


def post_bytes(
    url: str,
    body: bytes,
    *,
    timeout_s: float = 10.0,
    headers: dict[str, str] | None = None,
    allow_loopback: bool = False,
) -> httpx.Response:
    """POST ``body`` exactly as given (so a signature over it holds), like :func:`post_json`.

    The answer is read at most :data:`MAX_RESPONSE_BYTES` far: a receiver cannot make us
    hold a large body, and redirects are never followed (they could lead anywhere).
    """
    checked = check_url(url, allow_loopback=allow_loopback)
    parts = urlsplit(url)
    literal = f"[{checked.address}]" if ":" in checked.address else checked.address
    pinned = parts._replace(netloc=f"{literal}:{checked.port}").geturl()
    request_headers = {"Host": parts.netloc.rsplit("@", 1)[-1], **(headers or {})}
    extensions = {"sni_hostname": checked.host} if parts.scheme == "https" else {}
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        request = client.build_request(
            "POST", pinned, content=body, headers=request_headers, extensions=extensions
        )
        response = client.send(request, stream=True)
        try:
            received = bytearray()
            for chunk in response.iter_bytes():
                received += chunk[: MAX_RESPONSE_BYTES - len(received)]
                if len(received) >= MAX_RESPONSE_BYTES:
                    break
        finally:
            response.close()
        # The body is decoded already: headers describing its wire form must not come along.
        kept = [(k, v) for k, v in response.headers.multi_items() if k not in _WIRE_HEADERS]
        return httpx.Response(
            response.status_code, headers=kept, content=bytes(received), request=request
        )
