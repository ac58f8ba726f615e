"""HTTP tools: fill the agent file's URL/header/body templates with the model's arguments and call them.

Threat model: the arguments come from a language model that listens to whoever talks near the device, so
a tool URL is attacker-influenced. Placeholders in the URL are URL-encoded (an argument cannot add a path,
a query or a host), header values may not hold line breaks, redirects are not followed, and the address
checks of `runtime.guards.netguard` apply (http/https only; link-local and cloud-metadata addresses refused unless
`allow_private_networks`; the connection is pinned to the checked address).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from runtime.agentfile import placeholders
from runtime.agentfile.spec import HttpCall

RESPONSE_LIMIT_BYTES = 64 * 1024
_METHODS_WITH_BODY = ("POST", "PUT", "PATCH")


class ToolCallError(Exception):
    """A tool call failed in a way the model should hear about (message goes into `{"error": ...}`)."""


def fill(template: str, args: dict[str, Any], *, url_encode: bool) -> str:
    """Replace `{name}` placeholders with argument values (`{{`, `}}`: literal braces,
    `runtime.agentfile.placeholders`); a missing argument is an error."""

    def value(name: str) -> str:
        if name not in args:
            raise ToolCallError(f"missing argument {name!r} for the request template")
        raw = args[name]
        text = raw if isinstance(raw, str) else json.dumps(raw)
        return quote(text, safe="") if url_encode else text

    try:
        return placeholders.render(template, value)
    except placeholders.TemplateError as exc:  # refused by `runtime validate`; a hand-built spec can hold one
        raise ToolCallError(f"invalid request template: {exc.message}") from None


def fill_body(body: Any, args: dict[str, Any]) -> Any:
    """A JSON body template: a string that is exactly `{name}` keeps the argument's JSON type."""
    if isinstance(body, str):
        whole = placeholders.sole_placeholder(body)
        if whole is not None and whole in args:
            return args[whole]
        return fill(body, args, url_encode=False)
    if isinstance(body, dict):
        return {key: fill_body(item, args) for key, item in body.items()}
    if isinstance(body, list):
        return [fill_body(item, args) for item in body]
    return body


async def call_http(http: HttpCall, args: dict[str, Any], *, timeout_s: float) -> dict[str, Any]:
    """One request; 2xx → {"status", "body"}; anything else raises `ToolCallError`."""
    import httpx2

    from runtime.guards.netguard import ToolSecurityError, check_url, guarded_transport

    url = fill(http.url, args, url_encode=True)
    try:
        check_url(url, allow_private_networks=http.allow_private_networks)
    except ToolSecurityError as exc:
        raise ToolCallError(str(exc)) from exc
    headers = {}
    for key, template in http.headers.items():
        header_value = fill(template, args, url_encode=False)
        if "\r" in header_value or "\n" in header_value:
            raise ToolCallError(f"refused header {key!r}: an argument holds a line break")
        headers[key] = header_value
    content: str | None = None
    json_body: Any = None
    if isinstance(http.body, str):
        content = fill(http.body, args, url_encode=False)
    elif http.body is not None:
        json_body = fill_body(http.body, args)
    elif http.method in _METHODS_WITH_BODY:
        json_body = args
    transport = guarded_transport(allow_private_networks=http.allow_private_networks)
    async with httpx2.AsyncClient(
        transport=transport, timeout=timeout_s, follow_redirects=False, trust_env=False
    ) as client:
        try:
            async with client.stream(
                http.method, url, headers=headers, content=content, json=json_body
            ) as response:
                body, truncated = await _read_limited(response.aiter_bytes())
                status = response.status_code
                content_type = response.headers.get("content-type", "")
        except ToolSecurityError as exc:
            raise ToolCallError(str(exc)) from exc
        except httpx2.TimeoutException as exc:
            raise ToolCallError(f"HTTP request timed out after {timeout_s:g} s") from exc
        except httpx2.HTTPError as exc:
            raise ToolCallError(f"HTTP request failed: {type(exc).__name__}: {exc}") from exc
    return _result(status, body, truncated, content_type)


async def _read_limited(chunks: Any) -> tuple[bytes, bool]:
    collected = bytearray()
    async for chunk in chunks:
        collected += chunk
        if len(collected) > RESPONSE_LIMIT_BYTES:
            return bytes(collected[:RESPONSE_LIMIT_BYTES]), True
    return bytes(collected), False


def _result(status: int, body: bytes, truncated: bool, content_type: str) -> dict[str, Any]:
    text = body.decode("utf-8", errors="replace")
    parsed: Any = text
    if not truncated and "json" in content_type:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
    if not 200 <= status < 300:
        raise ToolCallError(f"HTTP {status}: {text[:500]}")
    result: dict[str, Any] = {"status": status, "body": parsed}
    if truncated:
        result["note"] = f"response truncated to the first {RESPONSE_LIMIT_BYTES // 1024} KiB"
    return result
