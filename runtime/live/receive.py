"""Server messages off the wire: the model's audio on a fast path, everything else through the SDK's parser.

For each of the 25 or so audio chunks a second, the SDK's `receive()` builds and validates a pydantic
`LiveServerMessage` (and dumps an empty one first). A message that is nothing but audio parts of the model's
turn is decoded here instead, to the same bytes: `decode_base64` reads base64 exactly as the SDK's pydantic
models do. Every other message, and every message on Vertex AI, goes through the SDK's own converter and
model (`sdk.parse_with_sdk`), so its meaning stays the SDK's; tests/live/test_receive.py and
tests/security/test_server_message_fuzz.py compare the two paths. What the fast path saves: `runtime/live/sdk.py`.

A malformed audio part (an `audio/...` blob whose `data` is not a string, or not base64 as the SDK reads
it) is dropped wherever it is, counted in the session's stats and logged once per connection; the rest of
the message stands. The SDK would refuse the whole message, and with it a `turnComplete` riding along, and
the connection would start over for one bad 40 ms chunk. Any other frame the SDK's parser refuses raises
`MalformedMessage`.
"""

from __future__ import annotations

import binascii
import json
import logging
import string
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from runtime.errors import AgentRuntimeError
from runtime.live import sdk

if TYPE_CHECKING:
    from google.genai import types
    from google.genai.live import AsyncSession

logger = logging.getLogger(__name__)

SDK_PARSE_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, AttributeError, RecursionError)
"""What the SDK's parser raises for a frame it cannot read (tests/security/test_server_message_fuzz.py):
pydantic's `ValidationError` and `UnicodeDecodeError` are `ValueError`s; `APIError` is not among them."""


class MalformedMessage(AgentRuntimeError):
    """A server frame that is not JSON, or that the SDK's parser refuses: the connection starts over."""


class MalformedAudioError(ValueError):
    """An audio part whose data the SDK would refuse (the reason, never the data, is the message)."""


class MalformedCounter(Protocol):
    """Where malformed audio parts are counted (the session's stats)."""

    malformed_audio_parts: int


class ServerMessageParser:
    """One connection's reader of frames: counts malformed audio parts, logs the first of the connection."""

    def __init__(self, counter: MalformedCounter) -> None:
        self.counter = counter
        self._logged = False

    def parse(self, frame: bytes | str) -> types.LiveServerMessage | bytes:
        """`bytes` (the PCM) for a message of nothing but audio parts, else the SDK's `LiveServerMessage`.
        Raises `MalformedMessage`, or the SDK's `APIError` for an error object the server sent."""
        response = _json(frame)
        pcm = self._audio_only(response)
        if pcm is not None:
            return pcm
        self._drop_malformed_audio(response)
        try:
            return sdk.parse_with_sdk(response)
        except SDK_PARSE_ERRORS as exc:
            raise MalformedMessage(f"{type(exc).__name__}: {exc!s:.200}") from None

    def _audio_only(self, response: Any) -> bytes | None:
        parts = _model_turn_parts(response)
        if parts is None:
            return None
        chunks: list[bytes] = []
        malformed: list[MalformedAudioError] = []
        for part in parts:
            try:
                pcm = audio_data(part)
            except MalformedAudioError as exc:
                malformed.append(exc)
                continue
            if pcm is None:
                return None
            chunks.append(pcm)
        for error in malformed:
            self._count(error)
        return b"".join(chunks)

    def _drop_malformed_audio(self, response: Any) -> None:
        """Take malformed audio parts out of a message the SDK is about to read."""
        content = response.get("serverContent") if isinstance(response, dict) else None
        turn = content.get("modelTurn") if isinstance(content, dict) else None
        parts = turn.get("parts") if isinstance(turn, dict) else None
        if not isinstance(turn, dict) or not isinstance(parts, list):
            return
        kept = []
        for part in parts:
            try:
                audio_data(part)
            except MalformedAudioError as exc:
                self._count(exc)
                continue
            kept.append(part)
        if len(kept) != len(parts):
            turn["parts"] = kept

    def _count(self, exc: MalformedAudioError) -> None:
        self.counter.malformed_audio_parts += 1
        if not self._logged:
            self._logged = True
            logger.warning("the server sent a malformed audio part (%s); dropped. Further ones on this connection "
                           "are dropped and counted without a log line", exc)


class ServerMessages:
    """The messages of one connection, one `await next()` at a time (so that the caller's `try` covers the
    reading and never its own handling of a message)."""

    def __init__(self, live: AsyncSession, parser: ServerMessageParser, *, fast: bool = True) -> None:
        self._live = live
        self._parser = parser
        self._socket = sdk.raw_socket(live) if fast else None
        self._turn: AsyncIterator[types.LiveServerMessage] | None = None

    async def next(self) -> types.LiveServerMessage | bytes:
        """The next message; ends only by raising, as `receive()` does (`APIError` when the socket closes,
        `MalformedMessage` for a frame that cannot be read)."""
        if self._socket is not None:
            return self._parser.parse(await sdk.recv_frame(self._socket))
        while True:
            if self._turn is None:
                self._turn = self._live.receive()  # stops after every turn
            try:
                return await anext(self._turn)
            except StopAsyncIteration:
                self._turn = None
            except SDK_PARSE_ERRORS as exc:
                self._turn = None
                raise MalformedMessage(f"{type(exc).__name__}: {exc!s:.200}") from None


def _json(frame: bytes | str) -> Any:
    if not frame:
        return {}
    try:
        return json.loads(frame)
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, nested past Python's recursion limit
        raise MalformedMessage(f"not JSON ({type(exc).__name__}): {frame[:200]!r}") from None


def _model_turn_parts(response: Any) -> list[Any] | None:
    """The parts of a message that holds a model turn and nothing else (a `role` string at most)."""
    if not isinstance(response, dict) or len(response) != 1:
        return None
    content = response.get("serverContent")
    if not isinstance(content, dict) or len(content) != 1:
        return None
    turn = content.get("modelTurn")
    if not isinstance(turn, dict) or not set(turn) <= {"role", "parts"} or not isinstance(turn.get("role", ""), str):
        return None
    parts = turn.get("parts")
    return parts if isinstance(parts, list) and parts else None


def audio_data(part: Any) -> bytes | None:
    """The PCM of a part that is only `{"inlineData": {"mimeType": "audio/...", "data": "..."}}`; None for
    any other part (audio without data included). `MalformedAudioError` when the SDK would refuse the data."""
    blob = part.get("inlineData") if isinstance(part, dict) and len(part) == 1 else None
    if not isinstance(blob, dict) or not set(blob) <= {"mimeType", "data"}:
        return None
    mime, data = blob.get("mimeType"), blob.get("data")
    if not isinstance(mime, str) or not mime.startswith("audio/") or data is None:
        return None
    if not isinstance(data, str):
        raise MalformedAudioError(f"inlineData.data is a JSON {type(data).__name__}, not a base64 string")
    return decode_base64(data)


_TO_STANDARD = str.maketrans("-_", "+/")
_SEXTET = {char: value for value, char in enumerate(string.ascii_uppercase + string.ascii_lowercase + "0123456789+/")}
_UNUSED_BITS = {2: 0b1111, 3: 0b11}
"""Bits of the last character that carry no data, by how many characters the last group has."""


def decode_base64(text: str) -> bytes:
    """Base64 as the SDK's pydantic models read it (pydantic-core's `val_json_bytes='base64'`,
    src/validators/config.rs: the URL-safe alphabet, else the standard one, never both; padding optional
    but never more than due; no stray characters; the unused bits of the last character zero).
    Python's own decoders skip stray characters or require padding, so they would differ from the SDK."""
    body = text.rstrip("=")
    tail = len(body) % 4
    if tail == 1 or len(text) - len(body) > (4 - tail) % 4:
        raise MalformedAudioError(f"invalid base64 length or padding ({len(text)} characters)")
    if "-" in body or "_" in body:
        if "+" in body or "/" in body:
            raise MalformedAudioError("base64 mixing the standard and the URL-safe alphabets")
        body = body.translate(_TO_STANDARD)
    if tail and _SEXTET.get(body[-1], 0) & _UNUSED_BITS[tail]:
        raise MalformedAudioError("base64 with non-zero unused bits in its last character")
    try:
        return binascii.a2b_base64(body + "=" * ((4 - tail) % 4), strict_mode=True)
    except ValueError:  # binascii.Error, or a non-ASCII str
        raise MalformedAudioError("invalid base64 characters") from None
