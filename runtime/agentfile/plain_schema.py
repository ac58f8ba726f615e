"""Recognise tool parameter schemas that are valid JSON Schema (draft 2020-12) at a glance, without jsonschema.

Checking a schema with jsonschema costs its import (~45 ms, ~2.7 MB), paid at every start of an agent with
explicit `parameters`, although nearly all of them are a few typed properties. `plainly_valid` answers True
only for schemas built from the keywords below with the value types the draft 2020-12 meta-schema requires
of them; anything else (another keyword, `pattern`, `$ref`, a doubtful value) answers False and goes to
jsonschema, which alone writes the error messages. A False is never a verdict, so this can only be wrong by
calling an invalid schema valid: each rule below is the meta-schema's own rule for that keyword.
"""

from __future__ import annotations

from collections.abc import Callable

SIMPLE_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})


def _is_string(value: object) -> bool:
    return isinstance(value, str)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value: object) -> bool:
    """The meta-schema's nonNegativeInteger (an int here: jsonschema also takes 2.0, which goes the slow way)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_type(value: object) -> bool:
    if isinstance(value, str):
        return value in SIMPLE_TYPES
    if isinstance(value, list) and value:
        return all(isinstance(item, str) and item in SIMPLE_TYPES for item in value) and len(set(value)) == len(value)
    return False


def _is_string_set(value: object) -> bool:
    """The meta-schema's stringArray: strings, each once."""
    return isinstance(value, list) and all(isinstance(item, str) for item in value) and len(set(value)) == len(value)


def _anything(value: object) -> bool:
    return True


KEYWORDS: dict[str, Callable[[object], bool]] = {
    "type": _is_type,
    "required": _is_string_set,
    "title": _is_string,
    "description": _is_string,
    "format": _is_string,
    "default": _anything,
    "const": _anything,
    "enum": lambda value: isinstance(value, list),
    "minimum": _is_number,
    "maximum": _is_number,
    "exclusiveMinimum": _is_number,
    "exclusiveMaximum": _is_number,
    "minLength": _is_count,
    "maxLength": _is_count,
    "minItems": _is_count,
    "maxItems": _is_count,
    "minProperties": _is_count,
    "maxProperties": _is_count,
    "uniqueItems": lambda value: isinstance(value, bool),
}
"""Keyword → the meta-schema's rule for its value (only keywords whose rule is this simple)."""

MAX_DEPTH = 16
"""Deeper schemas (or a YAML alias that makes one contain itself) go to jsonschema."""


def plainly_valid(schema: object, depth: int = 0) -> bool:
    """True when `schema` is certainly a valid draft 2020-12 schema; False when jsonschema must decide."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return False
    for keyword, value in schema.items():
        if keyword == "properties":
            if not isinstance(value, dict) or not all(
                isinstance(name, str) and plainly_valid(sub, depth + 1) for name, sub in value.items()
            ):
                return False
        elif keyword in ("items", "additionalProperties"):
            if not plainly_valid(value, depth + 1):
                return False
        else:
            rule = KEYWORDS.get(keyword) if isinstance(keyword, str) else None
            if rule is None or not rule(value):
                return False
    return True
