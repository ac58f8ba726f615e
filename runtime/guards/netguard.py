"""Keep HTTP tools from being turned against the device's own network (SSRF guard).

Threat model: the model chooses a tool's arguments, and the model reads whatever the user (or a web page,
or an email read aloud) says. A URL template such as `http://{host}/...`, or a redirect from a compromised
service, can point a tool at the cloud metadata service (169.254.169.254, fd00:ec2::254) whose answer holds
instance credentials, or at a link-local device admin page. Other schemes (`file:`, `gopher:`, `ftp:`,
`data:`) reach things that are not HTTP services at all. Loopback and RFC 1918 addresses stay allowed on
purpose: calling local services (Home Assistant, a timer daemon on 127.0.0.1) is what tools are for.
A tool that really needs link-local addresses sets `allow_private_networks: true`.

Attackers spell addresses in ways a naive string check misses: `http://2852039166/`, `http://0xA9FEA9FE/`,
`http://169.254.43518/` (all 169.254.169.254, as `inet_aton` and therefore `getaddrinfo` read them),
`http://[::ffff:169.254.169.254]/` (IPv4-mapped IPv6), NAT64 and 6to4 embeddings, or a DNS name that
resolves to a blocked address — possibly only on the second lookup (DNS rebinding). So the final check is
made on the resolved address, and the connection is made to exactly that address.

API for `runtime/live/tools.py`:

    from runtime.guards.netguard import ToolSecurityError, check_url, guarded_transport

    check_url(url, allow_private_networks=tool.http.allow_private_networks)     # early, clear error
    transport = guarded_transport(allow_private_networks=tool.http.allow_private_networks)
    async with httpx2.AsyncClient(transport=transport, follow_redirects=False, trust_env=False) as client:
        response = await client.request(...)    # ToolSecurityError if the host resolves to a blocked address

`guarded_transport` pins the connection to the address that passed the check: its network backend resolves
the host once, checks every address, and connects to a checked IP, while TLS still verifies the certificate
and sends SNI for the original host name. Redirects, if ever followed, go through the same check.
`resolve_and_check(url, ...)` is there for callers that use another client; it cannot pin by itself.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

import anyio
import httpcore2
import httpx2
from httpcore2._types import SOCKET_OPTION

from runtime.errors import AgentRuntimeError

__all__ = [
    "ALLOWED_SCHEMES",
    "BLOCKED_NETWORKS",
    "GuardedNetworkBackend",
    "IPAddress",
    "Resolver",
    "ToolSecurityError",
    "check_address",
    "check_url",
    "guarded_transport",
    "parse_ip_literal",
    "resolve_and_check",
    "resolve_host",
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


class GuardedNetworkBackend(httpcore2.AsyncNetworkBackend):
    """An httpcore network backend that resolves, checks, and connects to the checked address only.

    Checking a name and then letting the client resolve it again leaves a window for DNS rebinding (first
    answer 8.8.8.8, second 169.254.169.254); here the address that passed the check is the one dialled.
    """

    def __init__(
        self,
        *,
        allow_private_networks: bool,
        resolver: Resolver = system_resolver,
        inner: httpcore2.AsyncNetworkBackend | None = None,
    ) -> None:
        self._allow_private_networks = allow_private_networks
        self._resolver = resolver
        self._inner = inner if inner is not None else httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            addresses = await resolve_host(
                host, port, allow_private_networks=self._allow_private_networks, resolver=self._resolver
            )
        except (OSError, UnicodeError) as exc:  # reported by httpx2 as a ConnectError, like a refused connection
            raise httpcore2.ConnectError(f"cannot resolve {host!r}: {exc}") from None
        failure: httpcore2.ConnectError | httpcore2.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise ToolSecurityError("HTTP tool refused: Unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(
    *, allow_private_networks: bool, verify: bool = True, resolver: Resolver = system_resolver
) -> httpx2.AsyncHTTPTransport:
    """An httpx2 transport whose every connection goes through `GuardedNetworkBackend`; no proxies.

    httpx2 has no public option for the network backend, so the backend of the transport's connection pool
    is replaced; `tests/security/test_netguard.py` fails if a new httpx2 moves it.
    """
    transport = httpx2.AsyncHTTPTransport(verify=verify, trust_env=False)
    pool = transport._pool
    if not isinstance(pool, httpcore2.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        raise AgentRuntimeError("httpx2 changed its transport internals: runtime.guards.netguard cannot pin addresses")
    pool._network_backend = GuardedNetworkBackend(allow_private_networks=allow_private_networks, resolver=resolver)
    return transport
