"""Shared pieces of the emulator tests: a client for an emulator, test audio, message streams, fidelity checks."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import numpy as np
from google import genai
from google.ai.generativelanguage_v1beta.types import (
    BidiGenerateContentClientMessage,
    BidiGenerateContentServerMessage,
)
from google.genai import types

from runtime.emulator import Emulator, EmulatorOptions, serve

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
"""A current model with the 2.5 message shapes (one part per message); it speaks only."""
ANY_MODEL = "experimental-live-model"
"""A model the catalogue does not know: served only with `accept_any_model` (lenient rules, TEXT replies too)."""
NATIVE_MODEL = "gemini-2.5-flash-native-audio-preview-09-2025"


def client_for(emulator: Emulator, api_key: str = "test-key", api_version: str = "v1beta") -> genai.Client:
    """The documented client recipe: base_url, and the emulator's certificate for both HTTP and WebSocket."""
    trust = emulator.client_ssl_context()
    return genai.Client(
        api_key=api_key,
        http_options=types.HttpOptions(
            base_url=emulator.base_url,
            api_version=api_version,
            client_args={"verify": trust},
            async_client_args={"ssl": trust, "verify": trust},
        ),
    )


async def connect_refused(client: genai.Client, config: types.LiveConnectConfig, model: str = MODEL) -> Any:
    """The `errors.APIError` that `connect()` raises when the emulator refuses the setup (fails otherwise)."""
    from google.genai import errors

    try:
        async with client.aio.live.connect(model=model, config=config):
            pass
    except errors.APIError as refused:
        return refused
    raise AssertionError("connect() succeeded; a refusal was expected")


def check_fidelity(emulator: Emulator, client_messages: bool = True) -> None:
    """Every server message parses strictly as the official type, and so does every client message."""
    for entry in emulator.sent:
        BidiGenerateContentServerMessage.from_json(json.dumps(entry["msg"]), ignore_unknown_fields=False)
    for entry in emulator.records if client_messages else []:
        BidiGenerateContentClientMessage.from_json(json.dumps(entry["msg"]), ignore_unknown_fields=False)


@contextlib.asynccontextmanager
async def emulating(check_client_messages: bool = True, **options: Any) -> AsyncIterator[Emulator]:
    """An emulator for one test; on a clean exit, everything that crossed the wire is checked for fidelity.

    Tests that send invalid frames on purpose turn the client-side check off.
    """
    async with serve(EmulatorOptions(**options)) as emulator:
        yield emulator
        check_fidelity(emulator, check_client_messages)


def speech(seconds: float, rate_hz: int = 16000, level: int = 6000) -> bytes:
    """Loud voiced-like sound (a 180 Hz buzz with harmonics) that any energy detector calls speech."""
    time_s = np.arange(int(seconds * rate_hz)) / rate_hz
    wave = sum(np.sin(2 * np.pi * 180 * k * time_s) / k for k in (1, 2, 3))
    return (wave / 1.8 * level).astype("<i2").tobytes()


def silence(seconds: float, rate_hz: int = 16000) -> bytes:
    return bytes(int(seconds * rate_hz) * 2)


async def send_audio(session: Any, pcm: bytes, rate_hz: int = 16000, chunk_ms: int = 20) -> None:
    """Send PCM as realtimeInput audio chunks, as fast as the socket takes them."""
    step = rate_hz * chunk_ms // 1000 * 2
    for offset in range(0, len(pcm), step):
        blob = types.Blob(data=pcm[offset : offset + step], mime_type=f"audio/pcm;rate={rate_hz}")
        await session.send_realtime_input(audio=blob)


async def stream(session: Any) -> AsyncIterator[types.LiveServerMessage]:
    """Every server message, across turns (the SDK's receive() stops at each turnComplete)."""
    while True:
        async for message in session.receive():
            yield message


async def collect_until(
    session: Any, done: Callable[[types.LiveServerMessage], bool], timeout_s: float = 15
) -> list[types.LiveServerMessage]:
    """Messages up to and including the first one for which `done` is true."""
    seen: list[types.LiveServerMessage] = []
    with anyio.fail_after(timeout_s):
        async for message in stream(session):
            seen.append(message)
            if done(message):
                return seen
    return seen


def turn_complete(message: types.LiveServerMessage) -> bool:
    return bool(message.server_content and message.server_content.turn_complete)


def generation_complete(message: types.LiveServerMessage) -> bool:
    """The end of a reply the model finished (an interrupted turn has none, only its turnComplete)."""
    return bool(message.server_content and message.server_content.generation_complete)


def interrupted(message: types.LiveServerMessage) -> bool:
    return bool(message.server_content and message.server_content.interrupted)


def text_of(messages: list[types.LiveServerMessage]) -> str:
    return "".join(
        part.text or ""
        for message in messages
        if message.server_content and message.server_content.model_turn
        for part in message.server_content.model_turn.parts or []
    )


def transcript_of(messages: list[types.LiveServerMessage]) -> str:
    """The output transcription of the messages, its pieces joined as they came."""
    return "".join(
        message.server_content.output_transcription.text or ""
        for message in messages
        if message.server_content and message.server_content.output_transcription
    )


def audio_of(messages: list[types.LiveServerMessage]) -> bytes:
    return b"".join(
        part.inline_data.data or b""
        for message in messages
        if message.server_content and message.server_content.model_turn
        for part in message.server_content.model_turn.parts or []
        if part.inline_data is not None
    )


def sent_kinds(emulator: Emulator) -> list[str]:
    """Top-level keys of every server message, and serverContent's keys as `serverContent.KEY`."""
    kinds: list[str] = []
    for entry in emulator.sent:
        for key, value in entry["msg"].items():
            kinds.append(key)
            if key == "serverContent":
                kinds += [f"serverContent.{inner}" for inner in value]
    return kinds


@contextlib.asynccontextmanager
async def live(
    config: types.LiveConnectConfig | None = None, model: str = MODEL, **options: Any
) -> AsyncIterator[tuple[Emulator, Any]]:
    """An emulator and one SDK session connected to it."""
    async with (
        emulating(**options) as emulator,
        client_for(emulator).aio.live.connect(model=model, config=config) as session,
    ):
        yield emulator, session


def lenient_live(
    config: types.LiveConnectConfig | None = None, **options: Any
) -> contextlib.AbstractAsyncContextManager[tuple[Emulator, Any]]:
    """`live()` on `ANY_MODEL`, served with lenient rules: for the emulator's generic behaviour (text replies)."""
    return live(config, model=ANY_MODEL, accept_any_model=True, **options)


def tool_call_of(message: types.LiveServerMessage) -> bool:
    return message.tool_call is not None
