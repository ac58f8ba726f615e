"""Make a Live message safe to share: secrets, audio and words become markers of their length.

Threat model: a conformance trace goes into a public bug report. It must not carry the API key or a token
(they never travel inside messages, but a tool argument or a close reason might echo one), resumption
handles (they resume the conversation for two hours), what anyone said or typed (system instructions, user
text, transcripts, the model's words, tool arguments and results) or any audio. What it keeps is the shape
the emulator is judged by: which fields are present, enums, counts, model and function names, close codes.
So this is an allow-list: a string survives only under a key known to hold a name or an enum; every other
string becomes `<text:N>`, every `data` blob `<audio:N>` (or `<bytes:N>`), every handle `<handle:N>`. Raw PCM keeps
one bit: `<audio:N:voiced>` when its level is speech-like, so that a replay can stand a tone in for speech
(the emulator's voice detection then sees a turn where the service heard one).
Call ids are renumbered (`id-1`, ...) so that a response still names its call.
"""

from __future__ import annotations

import array
import base64
import binascii
import math
import re
import sys
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
MARKER = re.compile(r"^<(text|audio|bytes|handle):\d+(:voiced)?>$")
VOICED_RMS = 300.0
"""A PCM chunk at or above this RMS level counts as speech (the emulator's voice detection starts at 300)."""
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
            if not mime.startswith("audio/"):
                return f"<bytes:{decoded_length(value)}>"
            raw = decode(value)
            voiced = mime.startswith("audio/pcm") and pcm_rms(raw) >= VOICED_RMS
            return f"<audio:{len(raw) if raw is not None else len(value)}{':voiced' if voiced else ''}>"
        if key in KEPT_STRINGS and not free:
            return value
        return f"<text:{len(value)}>"


def camel_case(key: str) -> str:
    """Clients may send snake_case names (the SDK does for some): decide on the camelCase one."""
    return _SNAKE.sub(lambda match: match.group(1).upper(), key)


def decode(text: str) -> bytes | None:
    """The bytes behind protobuf-JSON base64 (either alphabet, padded or not), or None when it is not base64."""
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None


def decoded_length(text: str) -> int:
    raw = decode(text)
    return len(raw) if raw is not None else len(text)


def pcm_rms(raw: bytes | None) -> float:
    """RMS of 16-bit little-endian PCM (0 for nothing)."""
    if not raw or len(raw) < 2:
        return 0.0
    samples = array.array("h", raw[: len(raw) - len(raw) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return math.sqrt(sum(sample * sample for sample in samples) / len(samples))


def close_reason(reason: str, redact: Callable[[str], str]) -> str:
    """Close reasons are the service's words and stay (the emulator is judged by them), minus any secret."""
    return redact(reason)
