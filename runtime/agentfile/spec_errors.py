"""pydantic's validation errors → located, readable `RuntimeConfigError`s with hints.

pydantic says `tools.0.http.url: Field required`; users need `kitchen.yaml:14:5: error: missing required key
`url` in `tools[0].http`` and a hint. This module knows the models (for "did you mean" and the keys allowed
in a section) and the document's positions; it never prints an input value, which may hold a secret.
"""

from __future__ import annotations

import difflib
import functools
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from runtime.agentfile.spec import SWITCH, TOOL_KINDS, AgentSpec
from runtime.agentfile.yamldoc import MAX_ERRORS, Document, KeyPath
from runtime.errors import Location, RuntimeConfigError

LIVE_UNSUPPORTED = frozenset(
    {
        "response_mime_type",
        "response_schema",
        "response_json_schema",
        "response_logprobs",
        "logprobs",
        "stop_sequences",
        "stop_sequence",
        "routing_config",
        "audio_timestamp",
        "responseMimeType",
        "responseSchema",
        "responseLogprobs",
        "stopSequences",
        "routingConfig",
        "audioTimestamp",
    }
)
"""Generation parameters of the Gemini API that a Live session rejects."""

_PATTERN_MESSAGES: dict[str, tuple[str, str]] = {
    "name": (
        "`name` must be a slug: lowercase letters, digits, `-` and `_`, starting with a letter or digit",
        "it names state files, log lines and metrics, e.g. `kitchen` or `desk-2`",
    ),
    "tool.name": (
        "a tool name must be an identifier: letters, digits and `_`, not starting with a digit, at most 64",
        "e.g. `set_timer`",
    ),
    "tool.python": ("`python` must be an entry point `module:function`", "e.g. `kitchen_tools:set_timer`"),
}


_DEVICE_FORMS = "a device name substring, a PortAudio index, `default`, `file:PATH.wav`"
_ACCEPTED_FORMS: dict[KeyPath, tuple[str, str]] = {
    ("audio", "input", "device"): (
        "should be a valid string or integer, or null",
        f"{_DEVICE_FORMS} (play a WAV file as the microphone), or `null` (no microphone: nothing is streamed)",
    ),
    ("audio", "output", "device"): (
        "should be a valid string or integer, or null",
        f"{_DEVICE_FORMS} (write the reply to a WAV file), or `null` (no speaker: the reply is discarded)",
    ),
}
"""Values that take several forms: what to say instead of pydantic's list of the types of its union."""


def dotted(path: Sequence[str | int]) -> str:
    """`tools[0].http.url` for ("tools", 0, "http", "url")."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def model_at(path: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that validates the mapping at `path`, or None if that is no model.

    An entry of `tools:` is one of several models: the one with the next key of the path as a field, else
    the function tool (the common case, and the one whose keys "did you mean" should offer).
    """
    current: Any = AgentSpec
    for part in path:
        if isinstance(part, int):
            current = _item_type(current)
        elif typing.get_origin(current) is dict:  # a mapping by name (`overrides`)
            current = _unwrap(typing.get_args(current)[1])
        elif (model := _member_with(current, part)) is not None:
            current = _unwrap(model.model_fields[part].annotation)
        else:
            return None
    current = _first_model(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation stands for: itself, or the members of its (tagged) union."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _models(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [model for arg in typing.get_args(annotation) for model in _models(arg)]
    return [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []


def _member_with(annotation: Any, field: str) -> type[BaseModel] | None:
    return next((model for model in _models(annotation) if field in model.model_fields), None)


def _first_model(annotation: Any) -> Any:
    models = _models(annotation)
    return models[0] if models else annotation


def _unwrap(annotation: Any) -> Any:
    """`Tool` for `list[Tool]` stays a list; `HttpCall | None` becomes `HttpCall`."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return members[0] if len(members) == 1 else annotation
    return annotation


def _item_type(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (list, tuple):
        args = typing.get_args(annotation)
        return _unwrap(args[0]) if args else None
    return None


def _user_loc(loc: tuple[Any, ...]) -> KeyPath:
    """pydantic's location without the kind of a `tools:` entry it inserts (`tools.0.mcp.mcp.url`)."""
    if len(loc) >= 3 and loc[0] == "tools" and isinstance(loc[1], int) and loc[2] in TOOL_KINDS:
        return (*loc[:2], *loc[3:])
    return loc


@functools.cache
def _field_paths() -> dict[str, list[tuple[str, ...]]]:
    """Every key of the agent file by name, with where it belongs (`temperature` → generation.temperature)."""
    found: dict[str, list[tuple[str, ...]]] = {}

    def walk(model: type[BaseModel], prefix: tuple[str, ...]) -> None:
        for name in model.model_fields:
            found.setdefault(name, []).append((*prefix, name))
            nested = model_at((*prefix, name))
            if nested is not None and name != "tools":
                walk(nested, (*prefix, name))

    walk(AgentSpec, ())
    return found


def translate(error: ValidationError, doc: Document) -> list[RuntimeConfigError]:
    """One located error per problem; union branches of one value are merged into one message."""
    groups: dict[tuple[KeyPath, str], list[ErrorDetails]] = {}
    for detail in error.errors(include_url=False, include_input=True)[: MAX_ERRORS * 4]:
        loc = _user_loc(tuple(detail["loc"]))
        if detail["type"] in ("missing", "extra_forbidden"):
            key = (loc, detail["type"])
        else:
            key = (doc.known_prefix(loc), "value")
        groups.setdefault(key, []).append(detail)
    findings = [_finding(doc, loc, kind, details) for (loc, kind), details in list(groups.items())[:MAX_ERRORS]]
    if len(groups) > MAX_ERRORS:
        findings.append(RuntimeConfigError(findings[-1].location, f"more than {MAX_ERRORS} errors; stopping here"))
    return findings


def _finding(doc: Document, loc: KeyPath, kind: str, details: list[ErrorDetails]) -> RuntimeConfigError:
    if kind == "missing":
        return _missing(doc, loc)
    if kind == "extra_forbidden":
        return _unknown_key(doc, loc)
    first = details[0]
    if first["type"] == "conflicting_keys":
        context = first.get("ctx", {})
        return RuntimeConfigError(_later_key(doc, loc, str(context["keys"]).split()), first["msg"], context["hint"])
    message, hint = _value_message(loc, details)
    return RuntimeConfigError(doc.locate(loc), message, hint)


def _later_key(doc: Document, loc: KeyPath, keys: list[str]) -> Location:
    """Where the last written of two keys that exclude each other is: the one that made the conflict."""
    written = [doc.locate((*loc, key), key=True) for key in keys if doc.has((*loc, key))]
    if not written:
        return doc.locate(loc)
    return max(written, key=lambda location: (location.line, location.column))


def _missing(doc: Document, loc: KeyPath) -> RuntimeConfigError:
    parent, name = loc[:-1], str(loc[-1])
    where = f" in `{dotted(parent)}`" if parent else ""
    model = model_at(parent)
    hint = f"add `{name}: ...`"
    if model is not None and name in model.model_fields:
        examples = model.model_fields[name].examples
        if examples:
            hint = f"add `{name}: {examples[0]}`"
    return RuntimeConfigError(doc.locate(parent, key=True), f"missing required key `{name}`{where}", hint)


def _unknown_key(doc: Document, loc: KeyPath) -> RuntimeConfigError:
    parent, name = loc[:-1], str(loc[-1])
    location = doc.locate(loc, key=True)
    if name in LIVE_UNSUPPORTED:
        return RuntimeConfigError(
            location,
            f"`{name}` is not supported by the Live API",
            "remove it; the Live API supports temperature, top_p, top_k, max_output_tokens, presence_penalty, "
            "frequency_penalty and thinking_budget",
        )
    where = f" in `{dotted(parent)}`" if parent else ""
    model = model_at(parent)
    allowed = list(model.model_fields) if model is not None else []
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    elsewhere = [path for path in _field_paths().get(name, []) if path[:-1] != tuple(parent)]
    if close:
        hint = f"did you mean `{close[0]}`?"
    elif elsewhere:
        hint = f"`{name}` belongs under `{dotted(elsewhere[0][:-1])}`"
    elif allowed:
        hint = "allowed keys: " + ", ".join(allowed)
    else:
        hint = ""
    return RuntimeConfigError(location, f"unknown key `{name}`{where}", hint)


def _value_message(loc: KeyPath, details: list[ErrorDetails]) -> tuple[str, str]:
    first = details[0]
    kind = first["type"]
    name = dotted(loc) or "the file"
    if kind == "literal_error":
        return _literal_message(loc, first)
    if kind == "string_pattern_mismatch":
        field = "tool." + str(loc[-1]) if loc[:1] == ("tools",) else str(loc[-1])
        if field in _PATTERN_MESSAGES:
            return _PATTERN_MESSAGES[field]
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return _mapping_message(loc, name, first["input"])
    if kind in ("list_type", "tuple_type"):
        return f"`{name}` must be a list (`- item` lines or `[a, b]`)", ""
    if kind == "value_error":
        return str(first["msg"]).removeprefix("Value error, "), ""
    if "hint" in first.get("ctx", {}):  # the models' own errors (PydanticCustomError) carry their hint
        return str(first["msg"]), str(first.get("ctx", {})["hint"])
    if loc in _ACCEPTED_FORMS:
        message, hint = _ACCEPTED_FORMS[loc]
        return f"`{name}` {message}", hint
    if len(details) > 1 and all(d["msg"].startswith("Input should be a valid ") for d in details):
        kinds = " or ".join(d["msg"].removeprefix("Input should be a valid ").split(",")[0] for d in details)
        return f"`{name}` should be a valid {kinds}", ""
    message = str(first["msg"])
    return f"`{name}`: {message[:1].lower()}{message[1:]}", ""


def _mapping_message(loc: KeyPath, name: str, value: Any) -> tuple[str, str]:
    model = model_at(loc)
    if model is not None and SWITCH in model.model_fields and loc:
        key = loc[-1]
        return (
            f"`{name}` must be a mapping of keys (`key: value` lines) or a switch",
            f"switch it with `{key}: false` (or `true`), or write `{{{SWITCH}: false}}` with other keys",
        )
    hint = "put a space after each colon: `key: value`" if isinstance(value, str) and ":" in value else ""
    return f"`{name}` must be a mapping of keys (`key: value` lines)", hint


def _literal_message(loc: KeyPath, detail: ErrorDetails) -> tuple[str, str]:
    expected = str(detail.get("ctx", {}).get("expected", ""))
    name = dotted(loc)
    if loc == ("response",) and isinstance(detail["input"], list):
        return "a Live session has exactly one response modality", "choose `response: audio` or `response: text`"
    choices = [choice.strip(" '") for choice in expected.replace(" or ", ",").split(",") if choice.strip(" '")]
    value = detail["input"]
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5) if isinstance(value, str) else []
    hint = f"did you mean `{close[0]}`?" if close else ""
    return f"`{name}` must be one of: {', '.join(choices)}", hint
