"""Make a Live message safe to share: secrets, audio and words become markers of their length.

Threat model: a conformance trace goes into a public bug report. It must not carry the API key or a token
(they never travel inside messages, but a tool argument or a close reason might echo one), resumption
handles (they resume the conversation for two hours), what anyone said or typed (system instructions, user
text, transcripts, the model's words, tool arguments and results) or any audio. What it keeps is the shape
the emulator is judged by: which fields are present, enums, counts, model and function names, close codes.
So this is an allow-list: a string survives only under a key known to hold a name or an enum; every other
string becomes `<text:N>`, every `data` blob `<audio:N>` (or `<bytes:N>`), every handle `<handle:N>`.
Call ids are renumbered (`id-1`, ...) so that a response still names its call.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

KEPT_STRINGS = frozenset({
    "model", "mimeType", "role", "modality", "name", "scheduling", "behavior", "voiceName", "languageCode",
    "startOfSpeechSensitivity", "endOfSpeechSensitivity", "activityHandling", "turnCoverage", "timeLeft",
    "mediaResolution", "type", "format", "thinkingLevel", "trafficType", "responseModalities", "required",
    "finishReason", "waitingForInput", "status",
})
"""Keys whose string values are names, enums or durations, never anyone's words."""
FREE_VALUES = frozenset({"args", "response"})
"""Keys whose whole value is a tool's data: its keys (parameter names) stay, every string goes. A function's
parameter schema is not: its `type`s are enums (a replay must send a valid setup), its descriptions go."""
HANDLE_KEYS = frozenset({"newHandle", "handle"})
ID_KEYS = frozenset({"id", "ids"})
MARKER = re.compile(r"^<(text|audio|bytes|handle):\d+>$")
_SNAKE = re.compile(r"_([a-z0-9])")


class Sanitizer:
    """One per trace: call ids are renumbered consistently across its messages."""

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}

    def message(self, message: Any) -> Any:
        return self._value(message, key="", free=False, mime="")

    def _value(self, value: Any, *, key: str, free: bool, mime: str) -> Any:
        if isinstance(value, dict):
            mime = str(value.get("mimeType", value.get("mime_type", mime)))
            return {k: self._value(v, key=camel_case(k), free=free or camel_case(k) in FREE_VALUES, mime=mime)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self._value(item, key=key, free=free, mime=mime) for item in value]
        if not isinstance(value, str):
            return value
        return self._string(value, key=key, free=free, mime=mime)

    def _string(self, value: str, *, key: str, free: bool, mime: str) -> str:
        if MARKER.match(value):
            return value
        if key in ID_KEYS and not free:
            return self._ids.setdefault(value, f"id-{len(self._ids) + 1}")
        if key in HANDLE_KEYS:
            return f"<handle:{len(value)}>"
        if key == "data" and not free:
            kind = "audio" if mime.startswith("audio/") else "bytes"
            return f"<{kind}:{decoded_length(value)}>"
        if key in KEPT_STRINGS and not free:
            return value
        return f"<text:{len(value)}>"


def camel_case(key: str) -> str:
    """Clients may send snake_case names (the SDK does for some): decide on the camelCase one."""
    return _SNAKE.sub(lambda match: match.group(1).upper(), key)


def decoded_length(text: str) -> int:
    """Bytes behind protobuf-JSON base64 (either alphabet, padded or not); characters when it is not base64."""
    padded = text + "=" * (-len(text) % 4)
    try:
        return len(base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True))
    except (binascii.Error, ValueError):
        return len(text)


def close_reason(reason: str, redact: Callable[[str], str]) -> str:
    """Close reasons are the service's words and stay (the emulator is judged by them), minus any secret."""
    return redact(reason)
