"""Where sessions connect and with which credentials: Google's service, the emulator, or any proxy.

Keys come from `GEMINI_API_KEY`/`GOOGLE_API_KEY`, a systemd credential (`$CREDENTIALS_DIRECTORY/
gemini-api-key`), or a token URL that mints a short-lived token per connection, so the device never holds
the long-lived key. Every key or token read is registered with the redactor.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from runtime.errors import CredentialRefused, FatalSessionError, SessionError
from runtime.live.sdk import FastPaths

if TYPE_CHECKING:
    import httpx2
    from google import genai

logger = logging.getLogger(__name__)

CREDENTIAL_NAME = "gemini-api-key"
TOKEN_CREDENTIAL_NAME = "runtime-token-credential"
"""The systemd credential holding this device's token-service credential (`NAME.SECRET`)."""
RETRY_AFTER_CAP_S = 300.0
"""The longest `Retry-After` a token fetch waits out; a longer one fails the attempt (the session retries)."""
TOKEN_API_VERSION = "v1alpha"
"""Ephemeral tokens only work on v1alpha (BidiGenerateContentConstrained)."""


def register_secret(value: str) -> None:
    """Tell the redactor about a key or token so that it never appears in a log line."""
    try:
        redact = importlib.import_module("runtime.guards.redact")
    except ImportError:
        return
    secrets = getattr(redact, "SECRETS", None)
    if secrets is not None:
        secrets.add(value)


@dataclass(frozen=True)
class Endpoint:
    """A Live endpoint and how to authenticate to it."""

    base_url: str | None = None
    """Base URL (https://HOST:PORT); None means Google's service."""
    ca_file: Path | None = None
    """PEM file of certificates to trust for `base_url` (the emulator's own CA)."""
    api_key: str | None = field(default=None, repr=False)
    """Long-lived API key."""
    token_url: str | None = None
    """URL of a token service: POST returns {"token": "auth_tokens/..."}; one token per connection."""
    api_version: str = "v1beta"
    """API version of the WebSocket path."""
    token_bearer: str | None = field(default=None, repr=False)
    """Credential sent as `Authorization: Bearer ...` to the token URL: the device's own (`NAME.SECRET`, from the
    file `RUNTIME_TOKEN_CREDENTIAL_FILE` or the systemd credential `runtime-token-credential`) or the shared
    secret (env `RUNTIME_TOKEN_BEARER`). Never taken from the command line (ps would show it)."""
    token_ca_file: Path | None = None
    """PEM file to trust for `token_url` (env `RUNTIME_TOKEN_CA_FILE`): a token service with its own certificate
    while the Live API keeps the system's trust; None: as `ca_file`."""
    fast_paths: FastPaths = field(default_factory=FastPaths)
    """How the runtime reads and writes this endpoint's socket around the SDK (runtime/live/sdk.py)."""

    @classmethod
    def from_env(
        cls,
        *,
        base_url: str | None = None,
        ca_file: Path | str | None = None,
        token_url: str | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> Endpoint:
        """Arguments win over `RUNTIME_BASE_URL`, `RUNTIME_CA_FILE`, `RUNTIME_TOKEN_URL`; keys as the module says."""
        ca = ca_file or environ.get("RUNTIME_CA_FILE") or None
        return cls(
            base_url=base_url or environ.get("RUNTIME_BASE_URL") or None,
            ca_file=Path(ca) if ca else None,
            api_key=_read_api_key(environ),
            token_url=token_url or environ.get("RUNTIME_TOKEN_URL") or None,
            token_ca_file=Path(environ["RUNTIME_TOKEN_CA_FILE"]) if environ.get("RUNTIME_TOKEN_CA_FILE") else None,
            token_bearer=_registered(_token_credential(environ) or environ.get("RUNTIME_TOKEN_BEARER") or None),
        )

    def has_credentials(self) -> bool:
        return bool(self.api_key or self.token_url)

    def ssl_context(self) -> ssl.SSLContext | None:
        """A context trusting `ca_file`, or None for the system's default trust."""
        if self.ca_file is None:
            return None
        return ssl.create_default_context(cafile=str(self.ca_file))

    def token_ssl_context(self) -> ssl.SSLContext | None:
        """The trust for `token_url`: `token_ca_file`, else as the Live endpoint's."""
        if self.token_ca_file is None:
            return self.ssl_context()
        return ssl.create_default_context(cafile=str(self.token_ca_file))

    async def client(self, agent: str | None = None) -> genai.Client:
        """A google-genai client for one connection (a fresh token per call when a token URL is set, asked for
        `agent`: the service locks it to that agent's model and configuration).

        Building a client costs 100–500 ms of CPU (SSL contexts, HTTP clients), so it happens in a worker
        thread and, with a long-lived key, once per endpoint.
        """
        if self.token_url:
            token = await fetch_token(self.token_url, self.token_ssl_context(), bearer=self.token_bearer,
                                      agent=agent)
            return await anyio.to_thread.run_sync(_build_client, self.base_url, self.ca_file, token, TOKEN_API_VERSION)
        if not self.api_key:
            raise FatalSessionError(
                "no Gemini API key: set GEMINI_API_KEY, a systemd credential named gemini-api-key, "
                "or a token URL (--token-url / RUNTIME_TOKEN_URL)"
            )
        return await anyio.to_thread.run_sync(_cached_client, self.base_url, self.ca_file, self.api_key,
                                              self.api_version)


def _build_client(base_url: str | None, ca_file: Path | None, key: str, api_version: str) -> genai.Client:
    from google import genai
    from google.genai import types

    context = ssl.create_default_context(cafile=str(ca_file)) if ca_file is not None else None
    options = types.HttpOptions(
        base_url=base_url,
        api_version=api_version,
        async_client_args={"ssl": context} if context is not None else None,
    )
    return genai.Client(api_key=key, http_options=options)


_cached_client = functools.lru_cache(maxsize=8)(_build_client)


def _read_api_key(environ: Mapping[str, str]) -> str | None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        if environ.get(name):
            key = environ[name].strip()
            register_secret(key)
            return key
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if directory:
        path = Path(directory) / CREDENTIAL_NAME
        try:
            key = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("cannot read credential %s: %s", path, exc)
            return None
        if key:
            register_secret(key)
            return key
    return None


def _token_credential(environ: Mapping[str, str]) -> str | None:
    """The device's token-service credential from its file, if one is configured."""
    named = environ.get("RUNTIME_TOKEN_CREDENTIAL_FILE")
    directory = environ.get("CREDENTIALS_DIRECTORY")
    path = Path(named) if named else Path(directory) / TOKEN_CREDENTIAL_NAME if directory else None
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        if named:
            logger.warning("token credential file %s does not exist", path)
        return None
    except OSError as exc:
        logger.warning("cannot read token credential %s: %s", path, exc)
        return None


def _registered(secret: str | None) -> str | None:
    if secret:
        register_secret(secret)
    return secret


async def fetch_token(
    token_url: str, context: ssl.SSLContext | None, *, bearer: str | None = None, agent: str | None = None
) -> str:
    """POST `{"agent": NAME}` to the token service; it answers {"token": "auth_tokens/..."}.

    401/403 raise `CredentialRefused` (a revoked device, an agent it may not run: retrying cannot help and must
    not hammer the service); 429 waits out `Retry-After` (up to `RETRY_AFTER_CAP_S` in all), then asks again.
    """
    waited = 0.0
    while True:
        response = await _post_token(token_url, context, bearer, agent)
        if response.status_code != 429:
            break
        delay = _retry_after(response.headers.get("Retry-After"))
        if delay is None or waited + delay > RETRY_AFTER_CAP_S:
            raise SessionError(f"token service {token_url} is rate limiting this device (HTTP 429)")
        logger.warning("token service rate limited this device; asking again in %g s (Retry-After)", delay)
        await anyio.sleep(delay)
        waited += delay
    if response.status_code in (401, 403):
        why = "does not know this device's credential" if response.status_code == 401 else \
            f"does not let this device run agent {agent or '(none named)'}"
        raise CredentialRefused(f"token service {token_url} {why} (HTTP {response.status_code})")
    if response.status_code != 200:
        raise SessionError(f"token service {token_url} answered HTTP {response.status_code}")
    try:
        token = json.loads(response.text)["token"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SessionError(f"token service {token_url} sent no token: expected JSON {{\"token\": ...}}") from exc
    if not isinstance(token, str) or not token:
        raise SessionError(f"token service {token_url} sent an empty token")
    return token  # redacted by its shape (runtime.guards.redact.EPHEMERAL_TOKEN): one a connection, never registered


async def _post_token(token_url: str, context: ssl.SSLContext | None, bearer: str | None,
                      agent: str | None) -> httpx2.Response:
    import httpx2

    verify: ssl.SSLContext | bool = context if context is not None else True
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    body = {"agent": agent} if agent else {}
    try:
        async with httpx2.AsyncClient(timeout=10.0, verify=verify) as client:
            return await client.post(token_url, headers=headers, json=body)
    except httpx2.HTTPError as exc:
        raise SessionError(f"token service {token_url} unreachable: {exc}") from exc


def _retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds (the service sends whole seconds; an HTTP date is not expected)."""
    try:
        delay = float(value) if value is not None else None
    except ValueError:
        return None
    return None if delay is None or delay < 0 else delay
