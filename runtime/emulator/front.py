"""The HTTP side of the emulator: WebSocket paths and auth at the handshake, and `POST /v1alpha/auth_tokens`.

websockets only parses GET requests, so a connection that starts with `POST` is answered here, before
websockets sees it.
"""

from __future__ import annotations

import datetime
import http
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import Server, ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

from runtime.emulator.hub import Hub
from runtime.emulator.models import answer_listing
from runtime.emulator.state import EphemeralToken
from runtime.emulator.wire import ProtocolViolation, normalize

logger = logging.getLogger(__name__)

LIVE_PATH = re.compile(
    r"^/+ws/google\.ai\.generativelanguage\.(v1|v1beta|v1alpha)\.GenerativeService\."
    r"(BidiGenerateContent|BidiGenerateContentConstrained)$"
)
TOKENS_PATH = re.compile(r"^/+(v1|v1beta|v1alpha)/auth_tokens$")
BAD_KEY = "API key not valid. Please pass a valid API key."
MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True)
class Admission:
    """What the handshake decided about a WebSocket: its API version, token, or why it must be refused."""

    version: str
    token: EphemeralToken | None = None
    refusal: str = ""


def admit(hub: Hub, request: Request) -> Admission | Response:
    """Check the path and credentials of a WebSocket handshake; a Response refuses it outright."""
    key_ok = key_matches(hub, request.headers.get("x-goog-api-key", ""))
    listing = answer_listing(request, None if key_ok else BAD_KEY)  # GET /v1beta/models, the SDK's model list
    if listing is not None:
        return listing
    match = LIVE_PATH.match(request.path.split("?", 1)[0])
    if match is None:
        body = json.dumps({"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}})
        return Response(404, "Not Found", _json_headers(body), body.encode())
    version, method = match.groups()
    key = request.headers.get("x-goog-api-key", "")
    if method == "BidiGenerateContentConstrained":
        authorization = request.headers.get("Authorization", "")
        name = authorization.removeprefix("Token ").strip() if authorization.startswith("Token ") else key
        token, problem = hub.tokens.redeem(name)
        return Admission(version, token, problem)
    if not key_matches(hub, key):
        return Admission(version, refusal=BAD_KEY)
    return Admission(version)


def key_matches(hub: Hub, key: str) -> bool:
    """Constant-time comparison: the emulator may listen beyond loopback with a real-looking key."""
    expected = hub.options.api_key
    return expected is None or secrets.compare_digest(key.encode(), expected.encode())


def _json_headers(body: str) -> Headers:
    return Headers([("Content-Type", "application/json; charset=UTF-8"), ("Content-Length", str(len(body)))])


def mint_token(hub: Hub, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    """`POST /v1alpha/auth_tokens`: (HTTP status, JSON body), shaped like the service's answer."""
    if not key_matches(hub, headers.get("x-goog-api-key", "")):
        return 400, {"error": {"code": 400, "message": BAD_KEY, "status": "INVALID_ARGUMENT"}}
    try:
        request = json.loads(body or b"{}")
        setup = normalize(request.get("bidiGenerateContentSetup") or {}, "BidiGenerateContentSetup", "setup")
        now = time.time()
        token = EphemeralToken(
            uses_left=int(request.get("uses", 1)),
            expires_at=_timestamp(request.get("expireTime"), now + 1800),
            new_session_expires_at=_timestamp(request.get("newSessionExpireTime"), now + 60),
            setup=setup,
            field_mask=_field_mask(request.get("fieldMask")),
        )
    except (ValueError, TypeError, AttributeError, ProtocolViolation) as error:
        message = error.reason if isinstance(error, ProtocolViolation) else str(error)
        return 400, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}
    name = hub.tokens.mint(token)
    return 200, {"name": name}


def _field_mask(value: Any) -> tuple[str, ...] | None:
    """`fieldMask` as google-genai sends it: one comma-separated string (a FieldMask's JSON form)."""
    if value is None:
        return None
    paths = value.split(",") if isinstance(value, str) else list(value)
    return tuple(normalize_path(str(path).strip()) for path in paths if str(path).strip())


def normalize_path(path: str) -> str:
    """`generation_config.temperature` → `generationConfig.temperature` (both spellings are valid JSON names)."""
    return ".".join(re.sub(r"_([a-z])", lambda m: m.group(1).upper(), part) for part in path.split("."))


def _timestamp(value: Any, default: float) -> float:
    if value is None:
        return default
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class PlainHttpConnection(ServerConnection):
    """A ServerConnection that answers a plain `POST` itself (websockets refuses request bodies)."""

    hub: Hub

    def __init__(self, protocol: ServerProtocol, server: Server, **kwargs: Any) -> None:
        super().__init__(protocol, server, **kwargs)
        self._sniffed = False
        self._plain: bytearray | None = None

    def data_received(self, data: bytes) -> None:
        if not self._sniffed:
            self._sniffed = True
            if data.startswith(b"POST "):
                self._plain = bytearray()
        if self._plain is None:
            super().data_received(data)
            return
        self._plain += data
        self._answer_when_complete()

    def _answer_when_complete(self) -> None:
        assert self._plain is not None
        head, separator, body = bytes(self._plain).partition(b"\r\n\r\n")
        if not separator:
            if len(self._plain) > MAX_BODY_BYTES:
                self.transport.abort()
            return
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if len(body) < length:
            return
        path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else ""
        status, answer = (
            mint_token(self.hub, headers, body[:length])
            if TOKENS_PATH.match(path.split("?", 1)[0])
            else (404, {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}})
        )
        payload = json.dumps(answer).encode()
        phrase = http.HTTPStatus(status).phrase
        self.transport.write(
            f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json; charset=UTF-8\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            + payload
        )
        self._plain = bytearray()
        self.transport.close()


def connection_class(hub: Hub) -> type[PlainHttpConnection]:
    """A connection class bound to one emulator's hub."""
    return type("EmulatorConnection", (PlainHttpConnection,), {"hub": hub})
