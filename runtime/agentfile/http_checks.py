"""Checks of HTTP tools that a JSON Schema cannot express: the URL, the SSRF guard, and every template.

Templates are read with `runtime.agentfile.placeholders`, the parser the tool runner fills them with, so a tool that
validates is called as it was checked: the URL, each header value and every string of the body, however
deeply nested, each located where it is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol
from urllib.parse import urlsplit

from runtime.agentfile import placeholders
from runtime.agentfile.spec import Tool

KeyPath = tuple[str | int, ...]


class Reporter(Protocol):
    """Where findings go, located by key path (`runtime.agentfile.checks` is one)."""

    def error(self, loc: KeyPath, message: str, hint: str = "", *, key: bool = False) -> None: ...


def check_http(report: Reporter, loc: KeyPath, tool: Tool) -> None:
    """The URL's scheme, host and address, then the placeholders of every template against `parameters`."""
    assert tool.http is not None
    http = tool.http
    url_loc = (*loc, "http", "url")
    if check_url(report, url_loc, http.url, http.allow_private_networks):
        templates = [(url_loc, "url", http.url)]
    else:
        templates = []
    templates += [((*loc, "http", "headers", name), f"headers.{name}", value) for name, value in http.headers.items()]
    if http.body is not None:
        templates += list(_body_strings(http.body, (*loc, "http", "body"), "body"))
    properties = (tool.parameters or {}).get("properties")
    known = set(properties) if isinstance(properties, dict) else set()
    for where, label, template in templates:
        try:
            found = list(placeholders.names(template))
        except placeholders.TemplateError as error:
            report.error(where, f"`{label}`: {error.message}", error.hint)
            continue
        for name in sorted({placeholder.name for placeholder in found} - known):
            report.error(
                where,
                f"the placeholder `{{{name}}}` is not a parameter of tool `{tool.name}`",
                f"declare `{name}` under `parameters.properties`, or write `{{{{{name}}}}}` for the literal text",
            )


def _body_strings(body: Any, loc: KeyPath, label: str) -> Iterator[tuple[KeyPath, str, str]]:
    """Every string of a body template with its key path: the runtime fills them at any depth."""
    if isinstance(body, str):
        yield loc, label, body
    elif isinstance(body, dict):
        for key, item in body.items():
            yield from _body_strings(item, (*loc, key), f"{label}.{key}")
    elif isinstance(body, list):
        for index, item in enumerate(body):
            yield from _body_strings(item, (*loc, index), f"{label}[{index}]")


def check_url(report: Reporter, url_loc: KeyPath, url: str, allow_private_networks: bool) -> bool:
    """Scheme, host and the SSRF guard, on the URL with every placeholder filled; False when it is broken."""
    try:
        sample = placeholders.render(url, lambda _name: "x")
    except placeholders.TemplateError as error:
        report.error(url_loc, f"`url`: {error.message}", error.hint)
        return False
    try:
        parts = urlsplit(sample)
        host = parts.hostname
    except ValueError:
        report.error(url_loc, "`url` is not a valid URL", "e.g. http://127.0.0.1:8080/weather?city={city}")
        return False
    if parts.scheme not in ("http", "https"):
        scheme = f"`{parts.scheme}:` URLs are" if parts.scheme else "a URL without a scheme is"
        report.error(
            url_loc, f"{scheme} not allowed: tools call http:// or https:// only", "start the URL with http://"
        )
        return False
    if not host:
        report.error(url_loc, "`url` has no host", "e.g. http://127.0.0.1:8080/weather")
        return False
    _check_ssrf(report, url_loc, sample, allow_private_networks)
    return True


def _check_ssrf(report: Reporter, loc: KeyPath, url: str, allow_private_networks: bool) -> None:
    """The SSRF guard the tool runner applies to every call (`runtime.guards.netguard`), applied early: credentials in
    URLs, link-local and metadata addresses however spelt (decimal, IPv4-mapped), metadata host names."""
    from runtime.guards.netcheck import (  # loads the HTTP client: only files with HTTP tools
        ToolSecurityError,
        check_url,
    )

    try:
        check_url(url, allow_private_networks=allow_private_networks)
    except ToolSecurityError as refusal:
        message, _, hint = str(refusal).removeprefix("HTTP tool refused: ").partition("; ")
        report.error(loc, message, hint)
