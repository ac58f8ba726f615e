"""The network: the Live endpoint's name resolves and a TLS handshake with it succeeds (no session is opened)."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio

from runtime.doctor.report import Check, failed, passed
from runtime.live.endpoint import Endpoint

FAMILY = "network"
GOOGLE_HOST = "generativelanguage.googleapis.com"
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Target:
    """Where the Live WebSocket goes."""

    host: str
    port: int


def target(endpoint: Endpoint) -> Target:
    if not endpoint.base_url:
        return Target(GOOGLE_HOST, 443)
    parts = urlsplit(endpoint.base_url)
    return Target(parts.hostname or "", parts.port or 443)


async def check_resolves(where: Target) -> tuple[Check, list[str]]:
    name = f"{where.host} resolves"
    try:
        with anyio.fail_after(TIMEOUT_S):
            infos = await anyio.getaddrinfo(where.host, where.port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError) as error:
        hint = "check /etc/resolv.conf and the network (ping a known host); a captive portal or firewall may block DNS"
        return failed(FAMILY, name, f"no address ({error or 'timed out'})", hint), []
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    return passed(FAMILY, name, ", ".join(addresses[:3])), addresses


async def check_tls(endpoint: Endpoint, where: Target) -> Check:
    """Open TCP, complete a TLS handshake with the endpoint's trust, close: no HTTP request is sent."""
    name = f"TLS to {where.host}:{where.port}"
    context = endpoint.ssl_context() or ssl.create_default_context()
    try:
        with anyio.fail_after(TIMEOUT_S):
            stream = await anyio.connect_tcp(where.host, where.port, ssl_context=context, tls_standard_compatible=False)
    except ssl.SSLCertVerificationError as error:
        hint = ("the certificate is not trusted: check the clock, a TLS-intercepting proxy, or pass --ca-file "
                "for your own endpoint")
        return failed(FAMILY, name, f"certificate refused ({error.verify_message})", hint)
    except (OSError, ssl.SSLError, TimeoutError) as error:
        hint = (f"a firewall may block outgoing port {where.port}, or the endpoint is down; "
                f"try: curl -v https://{where.host}:{where.port}/")
        return failed(FAMILY, name, f"handshake failed ({type(error).__name__}: {error or 'timed out'})", hint)
    async with stream:
        version = stream.extra(anyio.streams.tls.TLSAttribute.tls_version)
    return passed(FAMILY, name, f"handshake ok ({version}, certificate verified)")
