"""Minting ephemeral Live tokens with `client.auth_tokens` and serving them over HTTP (`runtime token-server`).

`POST /token` with `Authorization: Bearer CREDENTIAL` and, optionally, `{"agent": NAME}`:

- the credential is a device's (`NAME.SECRET`, `runtime.live.token_devices`) or the shared `--bearer-file` secret;
- with `--agents DIR` the request must name an agent the device may run, and the token is locked to that agent's
  model and connect config (`runtime.live.token_agents`);
- each device draws from its own token bucket (`runtime.live.token_limits`): 429 with `Retry-After` when empty.

Answers: 200 `{"token": "auth_tokens/..."}`; 400 bad request; 401 unknown credential; 403 an agent the device may
not run; 404 an agent the service does not know, or another path; 413 a body over 4 KiB; 429 rate limited; 502 the
Live API refused to mint. Every mint and every refused credential or agent is logged with the device and the
agent, never a secret; every refusal is counted by its reason (the answer's `error`).
"""

from __future__ import annotations

import datetime
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from runtime.live.endpoint import TOKEN_API_VERSION, Endpoint, register_secret
from runtime.live.token_devices import DevicesFile, DevicesFileError, split_credential

if TYPE_CHECKING:
    from google.genai import types

    from runtime.live.token_agents import AgentCatalog
    from runtime.live.token_limits import RateLimiter

logger = logging.getLogger(__name__)

AGENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SHARED = "shared-bearer"
"""The device name of a request authenticated with the shared `--bearer-file` secret."""
ANONYMOUS = "anonymous"
"""The device name of a request to a service that asks for no credential at all."""
REASONS = ("unauthorized", "forbidden", "unknown_agent", "bad_request", "rate_limited", "mint_failed", "not_found",
           "too_large")
MAX_BODY_BYTES = 4096


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lifetimes:
    uses: int = 1
    expire_s: float = 1800.0
    new_session_s: float = 60.0


class Throttled(Exception):
    """Too many unverified credential checks for one device name: answer 429 with `Retry-After`."""

    def __init__(self, wait_s: int) -> None:
        super().__init__(f"retry after {wait_s} s")
        self.wait_s = wait_s


class TokenService:
    """Mints one token per request, synchronously (one HTTP thread per request)."""

    def __init__(
        self, endpoint: Endpoint, *, uses: int = 1, expire_s: float = 1800.0, new_session_s: float = 60.0,
        bearer: str | None = None, devices: DevicesFile | None = None, agents: AgentCatalog | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        from google import genai
        from google.genai import types

        if bearer:
            register_secret(bearer)
        self.bearer = bearer
        self.devices = devices
        self.agents = agents
        self.limiter = limiter
        self.lifetimes = Lifetimes(uses, expire_s, new_session_s)
        context = endpoint.ssl_context()
        options = types.HttpOptions(
            base_url=endpoint.base_url,
            api_version=TOKEN_API_VERSION,
            client_args={"verify": context} if context is not None else None,
        )
        self._client = genai.Client(api_key=endpoint.api_key, http_options=options)

    def mint(self, constraints: types.LiveConnectConstraints | None = None) -> str:
        """A new token's name (`auth_tokens/...`), locked to `constraints` when given."""
        from google.genai import types

        now = datetime.datetime.now(tz=datetime.UTC)
        life = self.lifetimes
        token = self._client.auth_tokens.create(config=types.CreateAuthTokenConfig(
            uses=life.uses,
            expire_time=now + datetime.timedelta(seconds=life.expire_s),
            new_session_expire_time=now + datetime.timedelta(seconds=life.new_session_s),
            live_connect_constraints=constraints,
            # [] locks the fields the constraints set and leaves the others (the resumption handle) to the client;
            # None would lock the whole setup (google/genai/tokens.py, `Tokens.create`, cases 2 and 3).
            lock_additional_fields=[] if constraints is not None else None,
        ))
        if not token.name:
            raise RuntimeError("the token service answered without a token name")
        return str(token.name)  # redacted by its shape (runtime.guards.redact.EPHEMERAL_TOKEN), not registered

    def identify(self, header: str | None) -> str | None:
        """The device a request comes from (`SHARED`, `ANONYMOUS` or a device name), or None: refused."""
        if self.bearer is None and self.devices is None:
            return ANONYMOUS
        if header is None or not header.startswith("Bearer "):
            return None
        credential = header.removeprefix("Bearer ").strip()
        if self.devices is not None and split_credential(credential) is not None:
            try:
                device = self.devices.authenticate(credential, self._throttle_hashing)
            except (OSError, DevicesFileError) as exc:
                logger.error("devices file %s unreadable, every device refused: %s", self.devices.path, exc)
                device = None
            if device is not None:
                return device.name
        if self.bearer is not None and hmac.compare_digest(credential.encode(), self.bearer.encode()):
            return SHARED
        return None

    def _throttle_hashing(self, name: str) -> None:
        """Checks of a credential not verified yet draw from a bucket of their own per device name (the first
        check after a start, then only wrong secrets: a right one is remembered)."""
        wait = self.limiter.take("unverified:" + name) if self.limiter is not None else 0
        if wait:
            raise Throttled(wait)

    def may_run(self, device: str, agent: str) -> bool:
        if device in (SHARED, ANONYMOUS) or self.devices is None:
            return True
        found = self.devices.current().get(device)
        return found is not None and found.may_run(agent)

    def answer(self, header: str | None, body: bytes) -> Answer:
        """The whole decision for one request; logs and counts its outcome."""
        started = time.monotonic()
        try:
            device = self.identify(header)
        except Throttled as throttled:
            claimed = split_credential((header or "").removeprefix("Bearer ").strip())
            return self._refuse("rate_limited", 429, (claimed[0] if claimed else "?") + " (unverified)", "?",
                                "too many failed checks", {"Retry-After": str(throttled.wait_s)})
        if device is None:
            claimed = split_credential((header or "").removeprefix("Bearer ").strip())
            return self._refuse("unauthorized", 401, claimed[0] + " (unverified)" if claimed else "?", "?")
        agent = _requested_agent(body)
        if agent is None:
            return self._refuse("bad_request", 400, device, "?", 'send {"agent": NAME} (lowercase letters, digits)')
        if not agent and self.agents is not None:
            return self._refuse("bad_request", 400, device, "-", 'name the agent: {"agent": NAME}')
        if agent and not self.may_run(device, agent):
            return self._refuse("forbidden", 403, device, agent, "this device may not run that agent")
        constraints = None
        if agent and self.agents is not None:
            constraints = self.agents.constraints(agent)
            if constraints is None:
                return self._refuse("unknown_agent", 404, device, agent, "no such agent here")
        wait = self.limiter.take(device) if self.limiter is not None else 0
        if wait:
            return self._refuse("rate_limited", 429, device, agent or "-", "too many tokens",
                                {"Retry-After": str(wait)})
        try:
            token = self.mint(constraints)
        except Exception as exc:
            logger.error("cannot mint a token for device=%s agent=%s: %s", device, agent or "-", exc)
            return self._refuse("mint_failed", 502, device, agent or "-", "cannot mint a token", log=False)
        self.minted(time.monotonic() - started)
        logger.info("minted a%s token for device=%s agent=%s", " locked" if constraints else "n unlocked", device,
                    agent or "-")
        return Answer(200, {"token": token})

    def _refuse(self, reason: str, status: int, device: str, agent: str, message: str = "",
                headers: dict[str, str] | None = None, *, log: bool = True) -> Answer:
        if log:
            logger.warning("refused device=%s agent=%s: %s", device, agent, reason)
        self.refused(reason)
        return Answer(status, {"error": reason, "message": message or reason}, headers or {})

    def refused(self, reason: str) -> None:
        """A hook for the metrics (`runtime.live.token_metrics`)."""

    def minted(self, seconds: float) -> None:
        """A hook for the metrics (`runtime.live.token_metrics`)."""

    def http_server(self, host: str, port: int) -> ThreadingHTTPServer:
        service = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 30.0  # a client that connects and says nothing (or stalls its TLS handshake) lets go

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("%s %s", self.address_string(), format % args)

            def do_POST(self) -> None:
                length = _body_length(self.path, self.headers.get("Content-Length"))
                if isinstance(length, Answer):
                    service.refused(length.body["error"])
                    self._reply(length)
                    return
                self._reply(service.answer(self.headers.get("Authorization"), self.rfile.read(length)))

            def _reply(self, answer: Answer) -> None:
                data = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return _Server((host, port), Handler)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    """socketserver's default listen backlog is 5: a fleet reconnecting at once overflows it and the kernel drops
    connections (measured: 27 of 100 devices refused, bench/token_burst.py)."""


def _body_length(path: str, content_length: str | None) -> int | Answer:
    """How many body bytes to read, or the refusal of a request that is not one for a token: another path (404),
    a body over `MAX_BODY_BYTES` (413), a length that is no count of bytes (400: a negative one would read until
    the client hangs up)."""
    if path.rstrip("/") not in ("/token", ""):
        return Answer(404, {"error": "not_found", "message": "POST /token"})
    text = (content_length or "0").strip()
    if not text.isascii() or not text.isdigit():
        return Answer(400, {"error": "bad_request", "message": "Content-Length is not a number of bytes"})
    length = int(text)
    if length > MAX_BODY_BYTES:
        return Answer(413, {"error": "too_large", "message": f"the body is over {MAX_BODY_BYTES} bytes"})
    return length


def _requested_agent(body: bytes) -> str | None:
    """The agent a request names ("" when it names none), or None when the body is not what it should be."""
    if not body.strip():
        return ""
    try:
        request = json.loads(body)
    except ValueError:
        return None
    agent = request.get("agent", "") if isinstance(request, dict) else None
    if agent == "" or (isinstance(agent, str) and AGENT_NAME.match(agent)):
        return agent
    return None
