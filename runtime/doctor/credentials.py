"""Credentials: a key or a token URL is configured, and the token URL answers with a token."""

from __future__ import annotations

import os
from collections.abc import Mapping

from runtime.doctor.report import Check, failed, passed, skipped
from runtime.live.endpoint import CREDENTIAL_NAME, Endpoint

FAMILY = "credentials"
NO_KEY_HINT = (
    "set GEMINI_API_KEY, give the service a systemd credential named gemini-api-key "
    "(LoadCredential=, docs/daemon.md), or a token URL (--token-url / RUNTIME_TOKEN_URL)"
)


def key_source(environ: Mapping[str, str]) -> str:
    """Where the key came from, in the words a user would look for (never the key)."""
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        if environ.get(name):
            return f"${name}"
    return f"systemd credential {CREDENTIAL_NAME}"


def check_configured(endpoint: Endpoint, environ: Mapping[str, str] = os.environ) -> Check:
    if endpoint.token_url:
        return passed(FAMILY, "credentials", f"token URL {endpoint.token_url} (one short-lived token per connection)")
    if endpoint.api_key:
        return passed(FAMILY, "credentials", f"API key from {key_source(environ)} ({len(endpoint.api_key)} characters)")
    return failed(FAMILY, "credentials", "no API key and no token URL", NO_KEY_HINT)


async def check_token_url(endpoint: Endpoint) -> Check:
    """Ask the token service for one token (it is registered with the redactor and never shown)."""
    from runtime.errors import SessionError
    from runtime.live.endpoint import fetch_token

    if not endpoint.token_url:
        return skipped(FAMILY, "token URL", "none configured")
    try:
        token = await fetch_token(endpoint.token_url, endpoint.token_ssl_context(), bearer=endpoint.token_bearer)
    except SessionError as error:
        if "HTTP 400" in str(error):  # the credential passed; a service with --agents wants an agent named
            return passed(FAMILY, "token URL", "credential accepted; tokens are locked to agents (asked per agent)")
        hint = ("check the URL, that `runtime token-server` runs there, and the device credential "
                "(RUNTIME_TOKEN_CREDENTIAL_FILE or RUNTIME_TOKEN_BEARER)")
        return failed(FAMILY, "token URL", str(error), hint)
    return passed(FAMILY, "token URL", f"answered with a token ({len(token)} characters)")
