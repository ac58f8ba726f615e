"""Minting ephemeral Live tokens with `client.auth_tokens` and serving them over HTTP (`runtime token-server`)."""

from __future__ import annotations

import datetime
import hmac
import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from runtime.live.endpoint import TOKEN_API_VERSION, Endpoint, register_secret

logger = logging.getLogger(__name__)


class TokenService:
    """Mints one token per request, synchronously (one HTTP thread per request)."""

    def __init__(
        self, endpoint: Endpoint, *, uses: int = 1, expire_s: float = 1800.0, new_session_s: float = 60.0,
        bearer: str | None = None,
    ) -> None:
        from google import genai
        from google.genai import types

        if bearer:
            register_secret(bearer)
        self.bearer = bearer
        self.uses = uses
        self.expire_s = expire_s
        self.new_session_s = new_session_s
        context = endpoint.ssl_context()
        options = types.HttpOptions(
            base_url=endpoint.base_url,
            api_version=TOKEN_API_VERSION,
            client_args={"verify": context} if context is not None else None,
        )
        self._client = genai.Client(api_key=endpoint.api_key, http_options=options)

    def mint(self) -> str:
        """A new token's name (`auth_tokens/...`)."""
        from google.genai import types

        now = datetime.datetime.now(tz=datetime.UTC)
        token = self._client.auth_tokens.create(config=types.CreateAuthTokenConfig(
            uses=self.uses,
            expire_time=now + datetime.timedelta(seconds=self.expire_s),
            new_session_expire_time=now + datetime.timedelta(seconds=self.new_session_s),
        ))
        if not token.name:
            raise RuntimeError("the token service answered without a token name")
        name = str(token.name)
        register_secret(name)
        return name

    def authorized(self, header: str | None) -> bool:
        if self.bearer is None:
            return True
        expected = f"Bearer {self.bearer}"
        return header is not None and hmac.compare_digest(header.encode(), expected.encode())

    def http_server(self, host: str, port: int) -> ThreadingHTTPServer:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                logger.info("%s %s", self.address_string(), format % args)

            def do_POST(self) -> None:
                if self.path.rstrip("/") not in ("/token", ""):
                    self._reply(404, {"error": "POST /token"})
                elif not service.authorized(self.headers.get("Authorization")):
                    self._reply(401, {"error": "unauthorized"})
                else:
                    try:
                        self._reply(200, {"token": service.mint()})
                    except Exception as exc:
                        logger.error("cannot mint a token: %s", exc)
                        self._reply(502, {"error": "cannot mint a token"})

            def _reply(self, status: int, body: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

        return ThreadingHTTPServer((host, port), Handler)
