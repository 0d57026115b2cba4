"""Server-side request forgery: URLs a client or an operator configures (client webhooks,
the generic provider's webhook, the procurement hook) must not reach the desk's own
network: loopback, link-local (169.254.0.0/16, the cloud metadata address), private
ranges, IPv6 loopback / ULA / link-local. TEMPODESK_OUTBOUND_ALLOW lists the exceptions
(hosts or CIDRs; tests and `tempodesk dev` allow loopback).

The check runs at delivery time, on every address the host name resolves to (a public name
can point at a private address). A refusal is non-retryable: no retry mends it.

The worker's HTTP client (:func:`http_client`) connects only to addresses it has checked: it
resolves a name once, checks every answer and connects to the checked address (TLS still
verifies the name). Without that, a name answering a public address to the check and a
private one to the connection a moment later (DNS rebinding) would lead inside. Provider
APIs (Graph, Datto, SentinelOne) go through the same client, so their URLs are held to the
same rule.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from urllib.parse import urlsplit

import httpcore
import httpx
from temporalio.exceptions import ApplicationError

from domain.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def forbidden(address: Address) -> bool:
    """Whether ``address`` is inside the desk's own network (or no real destination)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (address.is_loopback or address.is_link_local or address.is_private
            or address.is_unspecified or address.is_multicast or address.is_reserved
            or address in ipaddress.ip_network("100.64.0.0/10"))  # carrier-grade NAT


def _allowed(host: str, address: Address | None, allow: list[str]) -> bool:
    for entry in allow:
        if "/" in entry or _is_ip(entry):
            if address is not None and address in ipaddress.ip_network(entry, strict=False):
                return True
        elif host == entry.lower().rstrip("."):
            return True
    return False


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class OutboundRefused(ValueError):
    pass


def literal_private(url: str, allow: list[str]) -> str | None:
    """The address, if ``url`` names a private/loopback/link-local one literally (or is
    ``localhost``) and ``allow`` does not list it: `tempodesk config check` warns of it.
    Names are only resolved at delivery."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if host == "localhost" and not _allowed(host, ipaddress.ip_address("127.0.0.1"), allow):
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return str(address) if forbidden(address) and not _allowed(host, address, allow) else None


async def _resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to (one place, so tests can stand in for DNS)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


async def checked_addresses(host: str, port: int, allow: list[str]) -> list[Address] | None:
    """The addresses to connect to for ``host``, all checked; None when ``allow`` names the
    host itself (connect by name). Raise OutboundRefused if any answer is forbidden."""
    host = host.lower().rstrip(".")
    if _allowed(host, None, allow):
        return None
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = await _resolve(host, port)
        except (socket.gaierror, UnicodeError, ValueError) as exc:
            raise OutboundRefused(f"{host!r} does not resolve: {exc}") from exc
    for address in addresses:
        if forbidden(address) and not _allowed(host, address, allow):
            raise OutboundRefused(
                f"{host} resolves to {address}, a private, loopback or link-local address: "
                "refused (list it in TEMPODESK_OUTBOUND_ALLOW if it is meant)")
    return addresses


async def check_url(url: str, allow: list[str]) -> None:
    """Raise OutboundRefused if ``url`` leads (by any resolved address) into a private
    network that ``allow`` does not list."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        raise OutboundRefused(f"{url!r} is not an http(s) URL with a host")
    await checked_addresses(host, parts.port or (443 if parts.scheme == "https" else 80), allow)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses :func:`checked_addresses`
    returned for the request's host (the first that answers)."""

    def __init__(self, allow: list[str]) -> None:
        self._allow = allow
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable[typing.Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await checked_addresses(host, port, self._allow)
        except OutboundRefused as exc:
            raise ApplicationError(str(exc), type="OutboundRefused", non_retryable=True) from exc
        last: Exception | None = None
        for target in [host] if addresses is None else [str(a) for a in addresses]:
            try:
                return await self._inner.connect_tcp(target, port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def http_client(settings: Settings) -> httpx.AsyncClient:
    """The worker's one HTTP client: every connection pinned to a checked address."""
    transport = httpx.AsyncHTTPTransport()
    # httpx 0.28 takes no network backend; its pool (httpcore) does. Fail loudly, not
    # silently unguarded, if a later httpx renames these.
    pool = transport._pool
    if not hasattr(pool, "_network_backend"):
        raise RuntimeError("httpx changed: outbound connections cannot be pinned "
                           "(activities/outbound.py)")
    pool._network_backend = PinnedBackend(settings.outbound_allow)
    return httpx.AsyncClient(transport=transport)


async def guard(url: str, settings: Settings, what: str) -> None:
    """:func:`check_url` for an activity: a refusal fails the delivery, non-retryably."""
    try:
        await check_url(url, settings.outbound_allow)
    except OutboundRefused as exc:
        raise ApplicationError(f"{what}: {exc}", type="OutboundRefused",
                               non_retryable=True) from exc
