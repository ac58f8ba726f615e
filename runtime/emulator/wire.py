"""Read client JSON the way the service does (protobuf JSON rules) and write server JSON the way it does."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from runtime.emulator.wire_schema import ENUMS, MESSAGES
from runtime.errors import AgentRuntimeError

INVALID_ARGUMENT = 1007
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
GOING_AWAY = 1001
#: Close reasons travel in a close frame whose payload is at most 125 bytes (2 for the code).
MAX_REASON_BYTES = 123

_CAMEL_PART = re.compile(r"_([a-z0-9])")
_INT = re.compile(r"-?\d+")
_DURATION = re.compile(r"-?\d+(\.\d{1,9})?s")
_WELL_KNOWN = {"Struct", "Value", "ListValue", "Timestamp", "Empty", "FieldMask"}


class ProtocolViolation(AgentRuntimeError):
    """A client broke the protocol: the connection closes with `code` and `reason`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = clip_reason(reason)


def clip_reason(reason: str) -> str:
    """Cut a close reason to what fits in a close frame, like the service does."""
    encoded = reason.encode()
    if len(encoded) <= MAX_REASON_BYTES:
        return reason
    return encoded[:MAX_REASON_BYTES].decode(errors="ignore")


def camel_case(name: str) -> str:
    return _CAMEL_PART.sub(lambda match: match.group(1).upper(), name)


def _invalid(path: str, message: str) -> ProtocolViolation:
    """Name the field first: close reasons are cut at 123 bytes."""
    return ProtocolViolation(INVALID_ARGUMENT, f"Invalid value at '{path}': {message}")


def parse_client_message(raw: str | bytes) -> dict[str, Any]:
    """Parse one client frame into camelCase dicts, or raise ProtocolViolation naming the bad field."""
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ProtocolViolation(INVALID_ARGUMENT, f"Invalid JSON payload received. {error}") from None
    message = normalize(payload, "BidiGenerateContentClientMessage", "")
    if len(message) != 1:
        raise ProtocolViolation(
            INVALID_ARGUMENT,
            "Invalid JSON payload received. Exactly one of setup, clientContent, "
            "realtimeInput, toolResponse must be set.",
        )
    return message


def normalize(value: Any, message_name: str, path: str) -> dict[str, Any]:
    """Check `value` against one message type; return it with camelCase keys."""
    if not isinstance(value, dict):
        raise _invalid(path or message_name, f"expected an object ({message_name})")
    fields = MESSAGES[message_name]
    result: dict[str, Any] = {}
    for key, item in value.items():
        name = key if key in fields else camel_case(key)
        if name not in fields:
            where = path or message_name
            raise ProtocolViolation(
                INVALID_ARGUMENT,
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field.",
            )
        if item is None:
            continue
        field_path = f"{path}.{key}" if path else key
        result[name] = _convert(item, fields[name], field_path)
    return result


def _convert(item: Any, type_name: str, path: str) -> Any:
    if type_name.endswith("[]"):
        if not isinstance(item, list):
            raise _invalid(path, "expected a list")
        return [_convert(element, type_name[:-2], f"{path}[{index}]") for index, element in enumerate(item)]
    if type_name.startswith("map:"):
        if not isinstance(item, dict):
            raise _invalid(path, "expected an object")
        return {key: _convert(element, type_name[4:], f"{path}.{key}") for key, element in item.items()}
    if type_name.startswith("."):
        return normalize(item, type_name[1:], path)
    if type_name.startswith("enum:"):
        return _convert_enum(item, type_name[5:], path)
    return _convert_scalar(item, type_name, path)


def _convert_enum(item: Any, enum_name: str, path: str) -> str:
    values = ENUMS[enum_name]
    if isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(values):
        return values[item]
    if isinstance(item, str) and item in values:
        return item
    raise _invalid(path, f"{json.dumps(item)[:40]} is not a {enum_name}")


def _convert_scalar(item: Any, type_name: str, path: str) -> Any:
    if type_name in _WELL_KNOWN:
        return item
    if type_name == "string" and isinstance(item, str):
        return item
    if type_name == "bool" and isinstance(item, bool):
        return item
    if type_name in ("int", "int64"):
        if isinstance(item, int) and not isinstance(item, bool):
            return item
        if isinstance(item, float) and item.is_integer():  # protobuf JSON takes 40.0 for an int (the SDK sends it)
            return int(item)
        if isinstance(item, str) and _INT.fullmatch(item):
            return int(item)
    if type_name == "float" and isinstance(item, int | float) and not isinstance(item, bool):
        return float(item)
    if type_name == "bytes" and isinstance(item, str):
        decode_bytes(item, path)
        return item
    if type_name == "Duration" and isinstance(item, str) and _DURATION.fullmatch(item):
        return item
    raise _invalid(path, f"{json.dumps(item)[:40]} is not a {type_name}")


def decode_bytes(text: str, path: str = "data") -> bytes:
    """Protobuf JSON bytes: standard or URL-safe base64, padded or not."""
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(path, "not base64") from None


def encode_bytes(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def duration(seconds: float) -> str:
    """Protobuf JSON Duration, e.g. `50s` or `1.5s`."""
    text = f"{max(seconds, 0.0):.3f}".rstrip("0").rstrip(".")
    return f"{text}s"


def dump_server_message(message: dict[str, Any]) -> bytes:
    """Server frames are binary frames holding compact JSON, like the service sends."""
    return json.dumps(message, separators=(",", ":")).encode()
