"""The checks of the SSRF guard that need no connection: schemes, credentials in URLs, blocked addresses however
spelt, and resolving a host to checked addresses. `runtime.guards.netguard` states the threat model and adds
the pinned transport; this half stays apart because the transport loads httpcore2 (~50 ms), which checking
an agent file's URLs does not need.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable

import anyio
import httpx2

from runtime.errors import AgentRuntimeError

__all__ = [
    "ALLOWED_SCHEMES",
    "BLOCKED_NETWORKS",
    "IPAddress",
    "Resolver",
    "ToolSecurityError",
    "check_address",
    "check_url",
    "parse_ip_literal",
    "resolve_and_check",
    "resolve_host",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

ALLOWED_SCHEMES = frozenset({"http", "https"})

BLOCKED_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),  # link-local; AWS, GCP, Azure, OpenStack metadata, ECS credentials
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS instance metadata over IPv6
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
)
"""Refused unless the tool sets `allow_private_networks: true`."""

METADATA_HOST_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal", "metadata.azure.com"}
)
"""Names of metadata services, refused before any lookup (they resolve to blocked addresses anyway)."""

_HINT = "set `allow_private_networks: true` on the tool if it really must reach link-local addresses"


class ToolSecurityError(AgentRuntimeError):
    """A tool call was refused because it could reach something it must not (a scheme, an address)."""


def _parse_ipv4_number(part: str) -> int | None:
    """One dotted part as `inet_aton` reads it: `0x` hex, leading-zero octal, or decimal."""
    try:
        if part[:2].lower() == "0x":
            return int(part[2:] or "0", 16)
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        return int(part, 10) if part.isdigit() else None
    except ValueError:
        return None


def _parse_loose_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """IPv4 in every form `inet_aton` accepts (`2852039166`, `0xa9fea9fe`, `0251.0376.0251.0376`, `169.254.43518`)."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or any(not part for part in parts):
        return None
    numbers = [_parse_ipv4_number(part) for part in parts]
    if any(number is None for number in numbers):
        return None
    values = [number for number in numbers if number is not None]
    *leading, last = values
    if any(value > 0xFF for value in leading) or last >= 1 << (8 * (5 - len(values))):
        return None
    address = last
    for index, value in enumerate(leading):
        address |= value << (8 * (3 - index))
    return ipaddress.IPv4Address(address)


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host name denotes by itself (IPv6 with or without brackets and zone, loose IPv4), or None."""
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    return _parse_loose_ipv4(host)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo), which the kernel or
    a translator may route to."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    value = int(address)
    if value >> 32 == 0x0064_FF9B << 64 or (value >> 32 == 0 and value > 1):  # NAT64 64:ff9b::/96, ::a.b.c.d
        return ipaddress.IPv4Address(value & 0xFFFF_FFFF)
    return None


def check_address(address: IPAddress, *, allow_private_networks: bool) -> None:
    """Refuse a blocked address, also when it hides inside an IPv6 address."""
    if allow_private_networks:
        return
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            candidates.append(embedded)
    for candidate in candidates:
        for network in BLOCKED_NETWORKS:
            if candidate.version == network.version and candidate in network:
                raise ToolSecurityError(
                    f"HTTP tool refused: {address} is in {network} (link-local or cloud metadata); {_HINT}"
                )


def _parse(url: str) -> httpx2.URL:
    """Parse with the HTTP client's own parser, so the guard and the request agree on the host."""
    try:
        return httpx2.URL(url)
    except (httpx2.InvalidURL, TypeError, ValueError) as exc:
        raise ToolSecurityError(f"HTTP tool refused: not a valid URL ({exc})") from None


def check_url(url: str, *, allow_private_networks: bool) -> None:
    """Refuse what can be refused without a DNS lookup: scheme, credentials in the URL, blocked literal hosts.

    The error message names the scheme or address, never the URL itself (its query may hold a secret).
    """
    parsed = _parse(url)
    if parsed.scheme not in ALLOWED_SCHEMES:
        shown = parsed.scheme or "(none)"
        raise ToolSecurityError(f"HTTP tool refused: scheme {shown!r} is not allowed, only http and https")
    if parsed.userinfo:
        raise ToolSecurityError(
            "HTTP tool refused: credentials in the URL (`user:password@`) leak into logs and can disguise the"
            " host; send them in a header with `${secret:NAME}` instead"
        )
    host = parsed.host
    if not host:
        raise ToolSecurityError("HTTP tool refused: the URL has no host")
    if "%" in host and ":" not in host:
        raise ToolSecurityError("HTTP tool refused: percent-encoded characters in the host name")
    if host.rstrip(".") in METADATA_HOST_NAMES and not allow_private_networks:
        raise ToolSecurityError(f"HTTP tool refused: {host} is a cloud metadata service; {_HINT}")
    literal = parse_ip_literal(host)
    if literal is not None:
        check_address(literal, allow_private_networks=allow_private_networks)


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for `host` (TCP), in its order of preference; `OSError` if none."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def resolve_host(
    host: str, port: int, *, allow_private_networks: bool, resolver: Resolver = system_resolver
) -> list[IPAddress]:
    """Resolve `host` and check every address; one blocked answer refuses all (an attacker's DNS can mix)."""
    literal = parse_ip_literal(host)
    addresses = [literal] if literal is not None else await resolver(host, port)
    if not addresses:
        raise ToolSecurityError(f"HTTP tool refused: {host!r} resolves to no address")
    for address in addresses:
        check_address(address, allow_private_networks=allow_private_networks)
    return addresses


async def resolve_and_check(
    url: str, allow_private_networks: bool, *, resolver: Resolver = system_resolver
) -> list[IPAddress]:
    """`check_url`, then resolve the host and check every address; returns the addresses that passed.

    Raises `ToolSecurityError` for a refused URL or address and `OSError` when the name does not resolve.
    """
    check_url(url, allow_private_networks=allow_private_networks)
    parsed = _parse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return await resolve_host(parsed.host, port, allow_private_networks=allow_private_networks, resolver=resolver)
