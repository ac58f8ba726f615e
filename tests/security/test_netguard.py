"""The SSRF guard: HTTP tools reach local services but never link-local or metadata addresses, however spelled."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import anyio
import anyio.abc
import httpx2
import pytest

from runtime.errors import AgentRuntimeError
from runtime.guards.netguard import (
    IPAddress,
    Resolver,
    ToolSecurityError,
    check_url,
    guarded_transport,
    parse_ip_literal,
    resolve_and_check,
)

REFUSED = [
    ("file:///etc/passwd", "scheme"),
    ("gopher://127.0.0.1:25/_HELO", "scheme"),
    ("ftp://127.0.0.1/pub", "scheme"),
    ("data:text/plain,hello", "scheme"),
    ("ws://127.0.0.1:8080/", "scheme"),
    ("//127.0.0.1/no-scheme", "scheme"),
    ("http://user:password@127.0.0.1/", "credentials"),
    ("http://evil.example@127.0.0.1/", "credentials"),
    ("http:///no-host", "no host"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.0.0/16"),
    ("http://169.254.169.254./latest/", "169.254.0.0/16"),
    ("https://169.254.170.2/v2/credentials", "169.254.0.0/16"),
    ("http://2852039166/", "169.254.0.0/16"),  # decimal
    ("http://0xA9FEA9FE/", "169.254.0.0/16"),  # hex
    ("http://0xa9.0xfe.0xa9.0xfe/", "169.254.0.0/16"),  # dotted hex
    ("http://169.254.43518/", "169.254.0.0/16"),  # two-part form
    ("http://169.16689662/", "169.254.0.0/16"),  # two parts, 24-bit tail
    ("http://[::ffff:169.254.169.254]/", "169.254.0.0/16"),  # IPv4-mapped
    ("http://[::ffff:a9fe:a9fe]/", "169.254.0.0/16"),  # IPv4-mapped, hex
    ("http://[::169.254.169.254]/", "169.254.0.0/16"),  # IPv4-compatible
    ("http://[64:ff9b::a9fe:a9fe]/", "169.254.0.0/16"),  # NAT64
    ("http://[2002:a9fe:a9fe::1]/", "169.254.0.0/16"),  # 6to4
    ("http://[fe80::1]/", "fe80::/10"),
    ("http://[fe80::1%25eth0]:8080/", "fe80::/10"),
    ("http://[febf:ffff::1]/", "fe80::/10"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254"),
    ("http://100.100.100.200/latest/meta-data/", "100.100.100.200"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ("http://%31%36%39.254.169.254/", "percent-encoded"),
]

ALLOWED = [
    "http://127.0.0.1:8080/weather?city=Berlin",
    "https://localhost/",
    "http://[::1]:8123/api/states",
    "http://192.168.1.20/",
    "http://10.0.0.5:8123/",
    "http://172.16.0.1/",
    "http://100.100.100.100/",  # CGNAT / Tailscale: not metadata
    "http://homeassistant.local:8123/",
    "https://api.example.com/v1?key=abc",
    "HTTPS://API.EXAMPLE.COM/",
    "http://[fe00::1]/",  # just outside fe80::/10
    "http://169.253.255.255/",
    "http://169.255.0.0/",
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_refused_urls_name_the_reason(url: str, reason: str) -> None:
    with pytest.raises(ToolSecurityError, match="refused") as caught:
        check_url(url, allow_private_networks=False)
    assert reason in str(caught.value)
    assert isinstance(caught.value, AgentRuntimeError)


@pytest.mark.parametrize("url", ALLOWED)
def test_local_and_public_services_are_allowed(url: str) -> None:
    check_url(url, allow_private_networks=False)


ADDRESS_REASONS = {"169.254.0.0/16", "fe80::/10", "fd00:ec2::254", "100.100.100.200", "metadata"}


@pytest.mark.parametrize("url", [url for url, reason in REFUSED if reason in ADDRESS_REASONS])
def test_allow_private_networks_lifts_only_the_address_checks(url: str) -> None:
    check_url(url, allow_private_networks=True)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://h/", "http://u:p@h/"])
def test_allow_private_networks_never_allows_other_schemes_or_credentials(url: str) -> None:
    with pytest.raises(ToolSecurityError):
        check_url(url, allow_private_networks=True)


def test_errors_never_repeat_the_url_query() -> None:
    with pytest.raises(ToolSecurityError) as caught:
        check_url("http://169.254.169.254/?token=canary-secret-value", allow_private_networks=False)
    assert "canary-secret-value" not in str(caught.value)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2852039166", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("127.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("[::1]", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("256.1.1.1", None),
        ("1.2.3.4.5", None),
        ("4294967296", None),
        ("example.com", None),
        ("0x", "0.0.0.0"),
        ("09.1.1.1", None),
    ],
)
def test_ip_literals_are_read_like_inet_aton(host: str, expected: str | None) -> None:
    parsed = parse_ip_literal(host)
    assert (str(parsed) if parsed is not None else None) == expected


def fixed_resolver(*answers: str) -> Resolver:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(answer) for answer in answers]

    return resolve


@pytest.mark.anyio
async def test_a_name_resolving_to_metadata_is_refused() -> None:
    with pytest.raises(ToolSecurityError, match=r"169\.254"):
        await resolve_and_check("http://innocent.test/", False, resolver=fixed_resolver("169.254.169.254"))


@pytest.mark.anyio
async def test_one_blocked_answer_among_many_refuses_the_name() -> None:
    resolver = fixed_resolver("127.0.0.1", "fd00:ec2::254")
    with pytest.raises(ToolSecurityError, match="fd00:ec2::254"):
        await resolve_and_check("http://mixed.test/", False, resolver=resolver)
    addresses = await resolve_and_check("http://mixed.test/", True, resolver=resolver)
    assert [str(a) for a in addresses] == ["127.0.0.1", "fd00:ec2::254"]


@pytest.mark.anyio
async def test_the_system_resolver_reads_decimal_hosts_like_the_guard() -> None:
    with pytest.raises(ToolSecurityError):
        await resolve_and_check("http://localhost:1/", False, resolver=fixed_resolver("169.254.1.1"))
    assert [str(a) for a in await resolve_and_check("http://2130706433:8080/", False)] == ["127.0.0.1"]


async def serve_once(listener: anyio.abc.SocketListener, seen: list[bytes]) -> None:
    """A minimal HTTP/1.1 server: records the request head; `/redirect` answers 302 to the metadata service,
    anything else 200 with the Host header it saw."""

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            head = b""
            while b"\r\n\r\n" not in head:
                head += await stream.receive()
            seen.append(head)
            if head.startswith(b"GET /redirect "):
                location = b"http://169.254.169.254/latest/meta-data/"
                await stream.send(b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % location)
                return
            host = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"host:"))[5:].strip()
            await stream.send(
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(host), host)
            )

    await listener.serve(handle)


@pytest.fixture
async def local_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    seen: list[bytes] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = int(listener.extra(anyio.abc.SocketAttribute.local_port))
    async with anyio.create_task_group() as group:
        group.start_soon(serve_once, listener, seen)
        yield port, seen
        group.cancel_scope.cancel()


@pytest.mark.anyio
async def test_the_guarded_transport_dials_the_checked_address_and_keeps_the_host(
    local_server: tuple[int, list[bytes]],
) -> None:
    port, seen = local_server
    lookups: list[str] = []

    async def rebinding_resolver(host: str, port: int) -> list[IPAddress]:
        lookups.append(host)  # first answer passes; a second lookup would be the rebinding attack
        return [ipaddress.ip_address("127.0.0.1" if len(lookups) == 1 else "169.254.169.254")]

    transport = guarded_transport(allow_private_networks=False, resolver=rebinding_resolver)
    async with httpx2.AsyncClient(transport=transport) as client:
        response = await client.get(f"http://rebind.test:{port}/weather")
    assert response.status_code == 200
    assert response.text == f"rebind.test:{port}"
    assert lookups == ["rebind.test"]
    assert seen[0].startswith(b"GET /weather HTTP/1.1")


@pytest.mark.anyio
async def test_the_guarded_transport_refuses_a_blocked_answer_before_connecting() -> None:
    transport = guarded_transport(allow_private_networks=False, resolver=fixed_resolver("169.254.169.254"))
    async with httpx2.AsyncClient(transport=transport) as client:
        with pytest.raises(ToolSecurityError, match=r"169\.254"):
            await client.get("http://metadata-alias.test/latest/meta-data/")


@pytest.mark.anyio
async def test_the_guarded_transport_refuses_a_redirect_to_metadata(local_server: tuple[int, list[bytes]]) -> None:
    port, seen = local_server
    transport = guarded_transport(allow_private_networks=False)
    async with httpx2.AsyncClient(transport=transport, follow_redirects=True) as client:
        with pytest.raises(ToolSecurityError, match=r"169\.254"):
            await client.get(f"http://127.0.0.1:{port}/redirect")
    assert len(seen) == 1


@pytest.mark.anyio
async def test_an_unknown_name_is_a_connect_error_not_a_crash() -> None:
    async def no_answer(host: str, port: int) -> list[IPAddress]:
        raise OSError("Name or service not known")

    transport = guarded_transport(allow_private_networks=False, resolver=no_answer)
    async with httpx2.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx2.ConnectError):
            await client.get("http://does-not-exist.test/")
