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

from collections.abc import Iterable

import httpcore2
import httpx2
from httpcore2._types import SOCKET_OPTION

from runtime.errors import AgentRuntimeError
from runtime.guards.netcheck import (
    ALLOWED_SCHEMES,
    BLOCKED_NETWORKS,
    METADATA_HOST_NAMES,
    IPAddress,
    Resolver,
    ToolSecurityError,
    check_address,
    check_url,
    parse_ip_literal,
    resolve_and_check,
    resolve_host,
    system_resolver,
)

__all__ = [
    "ALLOWED_SCHEMES",
    "BLOCKED_NETWORKS",
    "METADATA_HOST_NAMES",
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
    "system_resolver",
]


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
