"""Microphone frames written at once from the capturing task while the sender is idle (`Uplink.direct`):
the same bytes on the wire, in the same order, exactly once, and the queue whenever a send would wait."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import pytest

from runtime.emulator import Emulator
from runtime.live.uplink import Frame, Message, Uplink, pump
from tests.emulator.helpers import MODEL, client_for, emulating


def _realtime_input(entry: dict[str, Any]) -> dict[str, Any]:
    """A recorded client message's `realtimeInput` (either spelling), or {}."""
    message = entry["msg"]
    return message.get("realtime_input", message.get("realtimeInput", {}))  # type: ignore[no-any-return]


def _frames_received(emulator: Emulator) -> list[bytes]:
    """The microphone blocks the emulator got, in order of arrival."""
    audio = [_realtime_input(entry).get("audio") for entry in emulator.records]
    return [base64.urlsafe_b64decode(block["data"]) for block in audio if block is not None]


@asynccontextmanager
async def _pumping(emulator: Emulator, uplink: Uplink) -> AsyncIterator[tuple[Any, anyio.Event]]:
    """A real google-genai session on the emulator with the uplink's sender running on it."""
    client = client_for(emulator)
    stop = anyio.Event()
    failures: list[BaseException] = []
    connecting = client.aio.live.connect(model=MODEL, config={"response_modalities": ["AUDIO"]})
    async with connecting as live, anyio.create_task_group() as group:
        group.start_soon(partial(pump, timeout_s=5.0), live, uplink, stop, failures.append)
        await anyio.wait_all_tasks_blocked()
        yield live, stop
        stop.set()
    assert failures == []


async def _until_received(emulator: Emulator, count: int) -> list[bytes]:
    with anyio.fail_after(10):
        while len(received := _frames_received(emulator)) < count:
            await anyio.sleep(0.01)
    return received


@pytest.mark.anyio
async def test_an_idle_sender_lets_frames_go_out_at_once_in_order_exactly_once() -> None:
    blocks = [bytes([n, 0]) * 320 for n in range(20)]
    async with emulating() as emulator:
        uplink = Uplink(100)
        async with _pumping(emulator, uplink):
            assert uplink.direct is not None
            for block in blocks:
                uplink.push_frame(Frame(block, 0.0))
            assert uplink.direct_frames == 20 and uplink.buffered_frames == 0 and uplink.sent_frames == 20
            assert await _until_received(emulator, 20) == blocks
        assert uplink.direct is None  # a stopped sender takes its writer with it


@pytest.mark.anyio
async def test_frames_behind_a_queued_message_wait_their_turn() -> None:
    """Anything queued (a tool response, an activity mark) goes first: a frame is never written past it."""
    sent_messages: list[str] = []

    async def text(live: Any) -> None:
        sent_messages.append("text")
        await live.send_realtime_input(text="hello")

    async with emulating() as emulator:
        uplink = Uplink(100)
        async with _pumping(emulator, uplink):
            uplink.push_frame(Frame(b"\x01\x00" * 320, 0.0))
            uplink.push_message(Message("text", text))
            uplink.push_frame(Frame(b"\x02\x00" * 320, 0.0))  # queued behind the text, not written
            assert uplink.direct_frames == 1
            await _until_received(emulator, 2)
            kinds = [next(iter(_realtime_input(entry)), None) for entry in emulator.records]
            assert [kind for kind in kinds if kind in ("audio", "text")] == ["audio", "text", "audio"]
        assert sent_messages == ["text"] and uplink.sent_frames == 2


@pytest.mark.anyio
async def test_a_paused_or_closing_socket_declines_and_the_queue_takes_the_frame() -> None:
    """Flow control (the transport's buffer above its high-water mark pauses websockets' writing) sends the
    frame through the queue, whose `send` waits for the drain; a closed socket declines too."""
    from runtime.live.sdk import raw_socket, text_writer

    async with emulating() as emulator:
        uplink = Uplink(100)
        async with _pumping(emulator, uplink) as (live, _stop):
            socket = raw_socket(live)
            assert socket is not None
            write_now = text_writer(socket)
            assert write_now is not None
            socket.pause_writing()  # type: ignore[attr-defined]  # what the transport calls at high water
            assert write_now(json.dumps({"realtime_input": {"text": "x"}})) is False
            uplink.push_frame(Frame(b"\x03\x00" * 320, 0.0))
            assert uplink.direct_frames == 0 and uplink.buffered_frames == 1
            socket.resume_writing()  # type: ignore[attr-defined]
            uplink.wake()
            assert await _until_received(emulator, 1) == [b"\x03\x00" * 320]
            uplink.push_frame(Frame(b"\x04\x00" * 320, 0.0))
            assert uplink.direct_frames == 1
            await live.close()
            assert write_now(json.dumps({"realtime_input": {"text": "x"}})) is False


@pytest.mark.anyio
async def test_a_connection_with_a_send_of_its_own_is_always_written_through_it() -> None:
    """`runtime doctor --trace` records every message in its connection class's `send`: no frame may pass it."""
    from websockets.asyncio.client import ClientConnection, connect
    from websockets.asyncio.server import ServerConnection, serve

    from runtime.live.sdk import text_writer

    class Recording(ClientConnection):
        async def send(self, message: Any, text: bool | None = None) -> None:
            await super().send(message, text=text)

    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    async with serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}") as plain:
            assert text_writer(plain) is not None  # websockets' own send: the direct write applies
        async with connect(f"ws://127.0.0.1:{port}", create_connection=Recording) as recording:
            assert text_writer(recording) is None
