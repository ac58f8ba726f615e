"""An MCP tool's input schema → the JSON Schema a Live function declaration takes (`parameters_json_schema`).

The Gemini API accepts a subset of JSON Schema 2020-12 there (https://ai.google.dev/gemini-api/docs/function-calling,
"parametersJsonSchema"); an MCP server may use any of it. What has an equivalent is converted (`oneOf` → `anyOf`,
`const` → a one-value `enum`), what has none is dropped, and each is reported once so that the log names the tool
and the construct: the model then sees a looser schema, while a call's arguments are still checked against the
server's own one before it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Converted", "declarable"]

_KEPT = frozenset({
    "type", "properties", "required", "items", "prefixItems", "enum", "description", "title", "format", "minimum",
    "maximum", "minItems", "maxItems", "minLength", "maxLength", "pattern", "anyOf", "$ref", "$defs",
    "additionalProperties", "nullable", "default", "propertyOrdering", "minProperties", "maxProperties",
})
"""Keywords the declaration takes as they are."""
_QUIET = frozenset({"$schema", "$id", "$comment", "examples", "deprecated", "readOnly", "writeOnly"})
"""Annotations without meaning for the model: dropped without a word."""
_NAMED = frozenset({"properties", "$defs"})
"""Keywords whose value maps names to schemas (the names are no keywords)."""


@dataclass(frozen=True)
class Converted:
    """The declarable schema and what was changed on the way (`oneOf → anyOf at properties.x`)."""

    schema: dict[str, Any]
    changes: tuple[str, ...] = ()


def declarable(schema: dict[str, Any]) -> Converted:
    """The schema with every construct the Live API refuses converted or dropped; a root without
    `type: object` becomes one (the declaration must describe an object)."""
    changes: list[str] = []
    converted = _convert(schema, "", changes)
    if not isinstance(converted, dict):
        converted = {}
    if converted.get("type") != "object":
        changes.append(f"root type {converted.get('type')!r} → object")
        converted = {"type": "object", "properties": converted.get("properties", {})}
    return Converted(converted, tuple(changes))


def _convert(node: Any, where: str, changes: list[str]) -> Any:
    if isinstance(node, list):
        return [_convert(item, f"{where}[{index}]", changes) for index, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        at = f"{where}.{key}" if where else key
        if key in _NAMED and isinstance(value, dict):
            result[key] = {name: _convert(sub, f"{at}.{name}", changes) for name, sub in value.items()}
        elif key == "oneOf":
            changes.append(f"oneOf → anyOf at {at}")
            result["anyOf"] = _convert(value, at, changes)
        elif key == "const":
            changes.append(f"const → enum at {at}")
            result["enum"] = [value]
        elif key in _KEPT:
            result[key] = _convert(value, at, changes) if key != "enum" else value
        elif key not in _QUIET:
            changes.append(f"{key} dropped at {at}")
    return result
