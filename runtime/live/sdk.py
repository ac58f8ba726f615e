"""Every private part of google-genai the runtime touches, in one place, checked once before a session starts.

The runtime reads the model's audio off the SDK's WebSocket and writes microphone frames onto it itself
(`receive.py`, `uplink.py`), and it aborts a connection whose peer never answers a close. None of that has
a public API, so it leans on these internals (google-genai 3.3.0 to 3.6.1 alike):

- `AsyncSession._ws`: the websockets `ClientConnection` of a Live session (`recv(decode=False)`, `send(str)`,
  and `transport.abort()`, the asyncio transport websockets keeps);
- `AsyncSession._api_client.vertexai`: whether the SDK speaks the Vertex AI dialect (the fast paths are for
  the Gemini API only; the public `Client.vertexai` reads the same attribute);
- `google.genai._live_converters._LiveServerMessage_from_mldev` and `LiveServerMessage._from_response`: the
  SDK's own reading of a server message, for every message the fast path leaves to the SDK;
- websockets' `ClientConnection.protocol`, `send_data()`, `paused` and `send_in_progress` (14-15:
  `fragmented_send_waiter`), which `text_writer` uses to write a microphone frame without a coroutine when
  `send` would not wait (absent: every frame goes through `send`, as before);
- what the SDK's private `AsyncSession._receive` does with a closed socket (`APIError` with the close code),
  copied by `recv_frame`;
- two behaviours the fast paths copy rather than call: the JSON `send_realtime_input(audio=...)` writes
  (`uplink.audio_frame_json`, compared byte for byte in tests/live/test_uplink.py), and how the SDK's
  pydantic models read base64 (`receive.decode_base64`, fuzzed against the SDK in
  tests/security/test_server_message_fuzz.py).

`check_sdk()` looks for each of them and parses two sample frames the SDK's way; it fails with
`SdkMismatch` naming what is missing and the supported range. The session runs it once per process, in the
thread that imports the SDK. Supported: every release in `SUPPORTED_SDK` (the pin in pyproject.toml); the
CI (scripts/test.sh, `scripts/sdk_matrix.sh`) runs this check and the receive/uplink tests against the
oldest and the newest of them. What changed between 3.3.0 and 3.6.1 in these files: `live.py` only in how
Vertex AI credentials are refreshed, `_live_converters.py` only in `Part` fields sent to the server, and
`_common.py`, `errors.py` and `_LiveServerMessage_from_mldev` not at all.

What the fast paths buy (`.venv/bin/python -m bench.sdk_fastpaths`, 2026-12-06, google-genai 3.6.1, a
2-core x86 VM shared with other work): one agent with a null speaker and a silent microphone streaming at
real-time pace, the emulator streaming a 12 s spoken reply in 40 ms chunks with output transcription; the
agent process's CPU time over the reply, 9 repetitions of the four modes, interleaved. CPU in % of a core,
median (min-max); ratio to no fast paths, median of the 9 per-repetition ratios (min-max):

| fast paths | CPU % of a core | ratio |
|---|---|---|
| none (the SDK's `receive()` and `send_realtime_input`) | 6.20 (5.42-6.82) | 1 |
| receive only | 5.37 (5.11-5.77) | 0.845 (0.787-0.978) |
| send only | 5.25 (4.64-5.52) | 0.825 (0.768-0.907) |
| both (the default) | 4.28 (3.65-4.61) | 0.687 (0.620-0.799) |

Per message, in one process with a stand-in socket (best of 5 rounds of 2000): reading a 40 ms audio
message costs 71 µs through the SDK and 15 µs on the fast path; sending a 20 ms microphone block 45.5 µs
through `send_realtime_input` and 2.6 µs pre-serialised. Each path saves about a sixth of a streaming
agent's CPU, both together nearly a third (an earlier run of 7 repetitions gave 0.892, 0.831 and 0.720):
both are kept.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from runtime.errors import FatalSessionError

if TYPE_CHECKING:
    from google.genai import types
    from google.genai.live import AsyncSession
    from websockets.exceptions import ConnectionClosed

logger = logging.getLogger(__name__)

SUPPORTED_SDK_MIN = (3, 3)
SUPPORTED_SDK_BELOW = (3, 7)
SUPPORTED_SDK = ">=3.3,<3.7"
"""The google-genai releases the runtime supports; pyproject.toml pins this."""
TESTED_SDK_RELEASES = ("3.3.0", "3.4.0", "3.5.0", "3.6.1")
"""Every release in `SUPPORTED_SDK` that was tested; CI tests the first and the last (scripts/sdk_matrix.sh)."""


class SdkMismatch(FatalSessionError):
    """The installed google-genai lacks an internal the runtime relies on: no retry will help."""


@dataclass(frozen=True)
class FastPaths:
    """Which of the runtime's own paths around the SDK's pydantic models a connection takes (Gemini API only).

    Both on by default; the bench turns them off to measure what they buy (bench/sdk_fastpaths.py)."""

    receive: bool = True
    """Decode messages that are nothing but the model's audio without the SDK's parser (`receive.py`)."""
    send: bool = True
    """Write microphone frames as pre-serialised JSON instead of `send_realtime_input` (`uplink.py`)."""


class RawSocket(Protocol):
    """The part of websockets' `ClientConnection` the fast paths use."""

    async def recv(self, decode: bool | None = None) -> bytes | str: ...

    async def send(self, message: str) -> None: ...


def raw_socket(live: AsyncSession) -> RawSocket | None:
    """The session's WebSocket when the runtime may read and write it itself: on the Gemini API, not on
    Vertex AI, whose messages the SDK converts differently."""
    socket: RawSocket | None = getattr(live, "_ws", None)  # absent only on a stand-in: `check_sdk` saw to that
    if getattr(getattr(live, "_api_client", None), "vertexai", True):
        return None
    return socket


def text_writer(socket: RawSocket) -> Callable[[str], bool] | None:
    """A function that writes one text message at once when websockets' `send` would not wait, and says
    whether it did; None when the socket lacks the websockets internals it needs (then every message goes
    through `send`).

    It is `Connection.send(str)` of websockets 14 to 17 (asyncio/connection.py: `send`, `send_context`,
    `drain`) for the case where that coroutine never yields: no fragmented message in progress
    (`send_in_progress`, called `fragmented_send_waiter` before 16), the connection OPEN, the transport
    neither closing nor paused by flow control. Then `send` is `protocol.send_text(data)` and `send_data()`
    and nothing else; in every other case this returns False and the caller awaits `send`, which waits, or
    raises `ConnectionClosed`, exactly as before. A connection whose class has a `send` of its own (the
    doctor's trace records every message there) gets None: all its messages go through that `send`.
    Skipping the coroutine, its async context manager and the wake-up of a sender task is most of what one
    microphone block cost the event loop (bench/README.md).
    """
    from websockets.asyncio.connection import Connection
    from websockets.protocol import State

    if getattr(type(socket), "send", None) is not Connection.send:
        return None  # a connection that records or alters what it sends (`runtime doctor --trace`) keeps it all
    protocol = getattr(socket, "protocol", None)
    transport = getattr(socket, "transport", None)
    send_data = getattr(socket, "send_data", None)
    busy_name = "send_in_progress" if hasattr(socket, "send_in_progress") else "fragmented_send_waiter"
    if protocol is None or transport is None or not callable(send_data) or not hasattr(socket, busy_name) \
            or not hasattr(socket, "paused") or not callable(getattr(protocol, "send_text", None)):
        return None
    is_open = State.OPEN

    def write_now(text: str) -> bool:
        if (getattr(socket, busy_name) is not None or protocol.state is not is_open or socket.paused
                or transport.is_closing()):
            return False
        protocol.send_text(text.encode())
        send_data()
        return True

    return write_now


def abort(live: AsyncSession) -> None:
    """Drop the TCP connection without a close handshake (the SDK has no public way to do this)."""
    transport = getattr(getattr(live, "_ws", None), "transport", None)
    if transport is not None:
        transport.abort()


async def recv_frame(socket: RawSocket) -> bytes | str:
    """The next frame, or what the SDK's `receive()` raises for a closed socket: `APIError` with the close
    frame's code and reason (1006 when the connection dropped without one)."""
    from websockets.exceptions import ConnectionClosed

    try:
        return await socket.recv(decode=False)
    except ConnectionClosed as closed:
        raise_closed(closed)


def raise_closed(closed: ConnectionClosed) -> NoReturn:
    """google-genai's `AsyncSession._receive` turns a close into `APIError.raise_error(code, reason)`."""
    from google.genai import errors
    from websockets.frames import CLOSE_CODE_EXPLANATIONS

    code, reason = (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (1006, None)
    errors.APIError.raise_error(code, reason or CLOSE_CODE_EXPLANATIONS.get(code, "Abnormal closure."), None)
    raise closed  # raise_error always raises


def parse_with_sdk(response: Any) -> types.LiveServerMessage:
    """What `AsyncSession.receive()` makes of a decoded frame on the Gemini API: its converter, its error
    for an object it does not know (an `APIError` when the object holds a `code`), its pydantic model."""
    from google.genai import _live_converters, errors, types

    converted = _live_converters._LiveServerMessage_from_mldev(response)
    if not converted and response:
        errors.APIError.raise_error(response.get("code"), response, None)
    # The SDK passes `LiveServerMessage().model_dump()` as kwargs, which only matter when they hold a `config`.
    return types.LiveServerMessage._from_response(response=converted, kwargs={})


@functools.cache
def check_sdk() -> str:
    """Import google-genai and check every internal this module uses; the SDK's version. Once per process."""
    import google.genai
    from google.genai import errors, live, types

    try:
        from google.genai import _live_converters
    except ImportError:
        _live_converters = None  # type: ignore[assignment]
    sdk = SdkModules(google.genai, live, types, errors, _live_converters)
    problems = missing_internals(sdk) or _misread_samples()
    if problems:
        raise SdkMismatch(mismatch_message(sdk.version, problems))
    if not _in_supported_range(sdk.version):
        logger.warning("google-genai %s is outside the tested range %s; its internals look the same", sdk.version,
                       SUPPORTED_SDK)
    return sdk.version


@dataclass(frozen=True)
class SdkModules:
    """The google-genai modules `check_sdk` looks into (tests pass stand-ins lacking a part)."""

    genai: Any
    live: Any
    types: Any
    errors: Any
    live_converters: Any
    """None when the module is gone."""

    @property
    def version(self) -> str:
        return str(getattr(self.genai, "__version__", "(unknown version)"))


def mismatch_message(version: str, problems: list[str]) -> str:
    return (f"google-genai {version} lacks {'; '.join(problems)}, which runtime relies on "
            f"(runtime/live/sdk.py). Install a supported release: pip install 'google-genai{SUPPORTED_SDK}'")


def _in_supported_range(version: str) -> bool:
    try:
        major_minor = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return SUPPORTED_SDK_MIN <= major_minor < SUPPORTED_SDK_BELOW


def missing_internals(sdk: SdkModules) -> list[str]:
    """The internals that are not where this module expects them, by their full names."""
    problems: list[str] = []
    socket, client = object(), object()
    try:
        session = sdk.live.AsyncSession(api_client=client, websocket=socket)
    except (TypeError, AttributeError):
        problems.append("google.genai.live.AsyncSession(api_client=..., websocket=...)")
    else:
        if getattr(session, "_ws", None) is not socket:
            problems.append("google.genai.live.AsyncSession._ws")
        if getattr(session, "_api_client", None) is not client:
            problems.append("google.genai.live.AsyncSession._api_client")
    if not isinstance(getattr(getattr(sdk.genai, "Client", None), "vertexai", None), property):
        problems.append("google.genai.Client.vertexai")
    if sdk.live_converters is None:
        problems.append("google.genai._live_converters")
    elif not callable(getattr(sdk.live_converters, "_LiveServerMessage_from_mldev", None)):
        problems.append("google.genai._live_converters._LiveServerMessage_from_mldev")
    if not callable(getattr(getattr(sdk.types, "LiveServerMessage", None), "_from_response", None)):
        problems.append("google.genai.types.LiveServerMessage._from_response")
    if not callable(getattr(getattr(sdk.errors, "APIError", None), "raise_error", None)):
        problems.append("google.genai.errors.APIError.raise_error")
    return problems


_SAMPLE_AUDIO = {"serverContent": {"modelTurn": {"role": "model", "parts": [
    {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "-_8"}},
    {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "+/8="}},
]}}}
_SAMPLE_TURN_COMPLETE = {"serverContent": {"turnComplete": True}}


def _misread_samples() -> list[str]:
    """What the SDK's parser no longer reads as the fast path does (both base64 alphabets, with and without
    padding), in the words of `check_sdk`'s message."""
    try:
        audio = parse_with_sdk(_SAMPLE_AUDIO)
        done = parse_with_sdk(_SAMPLE_TURN_COMPLETE)
    except Exception as exc:  # any failure here is the SDK's changed behaviour, reported as such
        return [f"its parser of server messages as 3.3 has it ({type(exc).__name__}: {exc})"]
    content = audio.server_content
    parts = content.model_turn.parts if content is not None and content.model_turn is not None else None
    blobs = [part.inline_data.data if part.inline_data is not None else None for part in parts or []]
    if blobs != [b"\xfb\xff", b"\xfb\xff"]:
        return ["its reading of base64 audio in LiveServerMessage (both alphabets, padded or not)"]
    if done.server_content is None or done.server_content.turn_complete is not True:
        return ["its reading of serverContent.turnComplete"]
    return []
