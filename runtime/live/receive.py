"""Server messages off the wire: the model's audio on a fast path, everything else through the SDK's parser.

For each of the 25 or so audio chunks a second, the SDK's `receive()` builds and validates a pydantic
`LiveServerMessage` (and dumps an empty one first): about a tenth of a streaming agent's CPU, and a few
milliseconds between the chunk's arrival and the speaker. A message that is nothing but audio parts of the
model's turn is decoded here instead, to the same bytes (pydantic's base64 accepts both alphabets, so does
`urlsafe_b64decode`). Every other message, and every message on Vertex AI, goes through the SDK's own
converter and model, so its meaning stays the SDK's; tests/live/test_receive.py compares the two paths.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.genai import types
    from google.genai.live import AsyncSession


async def server_messages(live: AsyncSession) -> AsyncIterator[types.LiveServerMessage | bytes]:
    """Every message of the connection, in order: `bytes` for an audio-only message (its PCM), else the
    SDK's `LiveServerMessage`. Ends only by raising, as `receive()` does (`APIError` when the socket closes,
    `ValueError` for a frame that is not JSON)."""
    ws = getattr(live, "_ws", None)
    client = getattr(live, "_api_client", None)
    if ws is None or client is None or getattr(client, "vertexai", True):
        while True:  # `receive()` stops after every turn
            async for message in live.receive():
                yield message
    while True:
        yield parse(await _recv(ws))


async def _recv(ws: Any) -> bytes | str:
    """The next frame, or the SDK's `APIError` for a closed socket (code and reason of the close frame)."""
    from google.genai import errors
    from websockets.exceptions import ConnectionClosed
    from websockets.frames import CLOSE_CODE_EXPLANATIONS

    try:
        frame: bytes | str = await ws.recv(decode=False)
    except ConnectionClosed as closed:
        code, reason = (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (1006, None)
        errors.APIError.raise_error(code, reason or CLOSE_CODE_EXPLANATIONS.get(code, "Abnormal closure."), None)
        raise  # raise_error always raises
    return frame


def parse(frame: bytes | str) -> types.LiveServerMessage | bytes:
    """One frame as `server_messages` yields it."""
    try:
        response = json.loads(frame) if frame else {}
    except json.JSONDecodeError:
        raise ValueError(f"Failed to parse response: {frame!r:.200}") from None
    pcm = audio_only(response)
    return pcm if pcm is not None else sdk_message(response)


def audio_only(response: Any) -> bytes | None:
    """The PCM of a message holding nothing but audio parts of the model's turn; None for anything else."""
    if not isinstance(response, dict) or len(response) != 1:
        return None
    content = response.get("serverContent")
    if not isinstance(content, dict) or len(content) != 1:
        return None
    turn = content.get("modelTurn")
    if not isinstance(turn, dict) or not set(turn) <= {"role", "parts"}:
        return None
    parts = turn.get("parts")
    if not isinstance(parts, list) or not parts:
        return None
    pcm = b""
    for part in parts:
        blob = part.get("inlineData") if isinstance(part, dict) and len(part) == 1 else None
        if not isinstance(blob, dict) or not set(blob) <= {"mimeType", "data"}:
            return None
        data, mime = blob.get("data"), blob.get("mimeType")
        if not isinstance(data, str) or not isinstance(mime, str) or not mime.startswith("audio/"):
            return None
        pcm += base64.urlsafe_b64decode(data)
    return pcm


def sdk_message(response: Any) -> types.LiveServerMessage:
    """What `AsyncSession.receive()` makes of a parsed frame (google-genai 3.3, Gemini API)."""
    from google.genai import _live_converters, errors, types

    converted = _live_converters._LiveServerMessage_from_mldev(response)
    if not converted and response:
        errors.APIError.raise_error(response.get("code"), response, None)
    # the SDK passes `LiveServerMessage().model_dump()` as kwargs, which only matter when they hold a `config`
    return types.LiveServerMessage._from_response(response=converted, kwargs={})
