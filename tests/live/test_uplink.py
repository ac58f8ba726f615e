"""The uplink buffer: bounded, oldest dropped and counted, failed sends first in line again."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
import pytest

from runtime.live.uplink import Frame, Message, Uplink


async def noop(live: object) -> None:
    pass


@pytest.mark.anyio
async def test_a_full_buffer_drops_the_oldest_frame_and_counts_it() -> None:
    uplink = Uplink(3)
    for i in range(5):
        uplink.push_frame(Frame(bytes([i]), 0.0))
    assert uplink.dropped_frames == 2
    assert [(await uplink.take()).pcm for _ in range(3)] == [b"\x02", b"\x03", b"\x04"]  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_messages_go_before_audio_and_a_given_back_item_goes_first() -> None:
    uplink = Uplink(10)
    uplink.push_frame(Frame(b"a", 0.0))
    uplink.push_frame(Frame(b"b", 0.0))
    message = Message("tool_response", noop)
    uplink.push_message(message)
    assert await uplink.take() is message
    first = await uplink.take()
    uplink.give_back(first)
    assert await uplink.take() is first
    uplink.mark_sent(first)
    assert uplink.sent_frames == 1 and uplink.sent_bytes == 1


@pytest.mark.anyio
async def test_take_waits_for_an_item_and_cancelling_the_wait_loses_nothing() -> None:
    uplink = Uplink(10)
    with anyio.move_on_after(0.02):
        await uplink.take()
    uplink.push_frame(Frame(b"x", 0.0))
    assert (await uplink.take()).pcm == b"x"  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_activity_marks_keep_their_place_between_frames_and_are_never_dropped() -> None:
    uplink = Uplink(2)
    start, end = Message("activity_start", noop), Message("activity_end", noop)
    uplink.push_mark(start)
    uplink.push_frame(Frame(b"1", 0.0))
    uplink.push_frame(Frame(b"2", 0.0))
    uplink.push_mark(end)
    uplink.push_frame(Frame(b"3", 0.0))  # full: frame 1 goes, the marks stay
    taken = [await uplink.take() for _ in range(4)]
    assert taken[0] is start and taken[2] is end
    assert [item.pcm for item in taken if isinstance(item, Frame)] == [b"2", b"3"]
    uplink.give_back(end)
    assert await uplink.take() is end


@pytest.mark.anyio
async def test_an_unsendable_message_is_dropped_and_a_closed_connection_gives_the_item_back() -> None:
    from websockets.exceptions import ConnectionClosedError

    from runtime.live.uplink import pump

    sent: list[str] = []
    failures: list[BaseException] = []

    def message(kind: str, error: BaseException | None = None) -> Message:
        async def send(live: object) -> None:
            if error is not None:
                raise error
            sent.append(kind)

        return Message(kind, send)

    uplink = Uplink(10)
    uplink.push_message(message("bad", ValueError("no id")))
    uplink.push_message(message("good"))
    closed = message("after_close", ConnectionClosedError(None, None))
    uplink.push_message(closed)
    uplink.push_message(message("next_connection"))
    await pump(object(), uplink, anyio.Event(), failures.append, timeout_s=5.0)  # type: ignore[arg-type]
    assert sent == ["good"]
    assert len(failures) == 1 and isinstance(failures[0], ConnectionClosedError)
    assert await uplink.take() is closed  # first in line for the next connection


@pytest.mark.anyio
async def test_a_given_back_stream_end_stays_behind_the_frames_it_followed() -> None:
    uplink = Uplink(10)
    stream_end = Message("audio_stream_end", noop)
    uplink.push_frame(Frame(b"1", 0.0))
    uplink.push_mark(stream_end)
    uplink.push_frame(Frame(b"2", 0.0))
    first = await uplink.take()
    assert await uplink.take() is stream_end
    uplink.give_back(stream_end)
    uplink.give_back(first)
    uplink.push_message(Message("tool_response", noop))
    kinds = [item.kind if isinstance(item, Message) else item.pcm for item in [await uplink.take() for _ in range(4)]]
    assert kinds == ["tool_response", b"1", "audio_stream_end", b"2"]


class _CapturingSocket:
    """Stands in for the SDK session's WebSocket: keeps what would go on the wire."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, text: str) -> None:
        self.sent.append(text)


def _sdk_session(vertexai: bool | None) -> tuple[Any, _CapturingSocket]:
    from google.genai.live import AsyncSession

    class _Client:
        pass

    client = _Client()
    client.vertexai = vertexai  # type: ignore[attr-defined]
    ws = _CapturingSocket()
    live = AsyncSession.__new__(AsyncSession)
    live._ws = ws  # type: ignore[assignment]
    live._api_client = client  # type: ignore[assignment]
    return live, ws


@pytest.mark.anyio
@pytest.mark.parametrize("size", [0, 1, 2, 3, 640, 641, 642])
async def test_the_fast_audio_frame_is_what_the_sdk_would_send(size: int) -> None:
    """The pre-serialised frame equals `send_realtime_input(audio=Blob(...))` byte for byte."""
    await _compare_with_the_sdk(size, vertexai=False)


@pytest.mark.anyio
async def test_a_gemini_api_client_takes_the_fast_path() -> None:
    """A real client for the Gemini API leaves `vertexai` at None, not False."""
    from google import genai

    client = genai.Client(api_key="not-a-real-key")
    assert not client._api_client.vertexai
    await _compare_with_the_sdk(640, vertexai=client._api_client.vertexai, fast=True)


async def _compare_with_the_sdk(size: int, *, vertexai: bool | None, fast: bool = False) -> None:
    from google.genai import types

    from runtime.live.uplink import MIC_MIME_TYPE, audio_frame_json, frame_sender

    pcm = bytes((i * 37 + 251) % 256 for i in range(size))  # covers the URL-safe base64 characters
    live, ws = _sdk_session(vertexai)
    await live.send_realtime_input(audio=types.Blob(data=pcm, mime_type=MIC_MIME_TYPE))
    sender = frame_sender(live)
    await sender(pcm)
    assert ws.sent[0] == ws.sent[1] == audio_frame_json(pcm)
    if fast:
        assert sender.__name__ == "send_json"


@pytest.mark.anyio
async def test_vertex_frames_go_through_the_sdk() -> None:
    from runtime.live.uplink import frame_sender

    live, ws = _sdk_session(vertexai=True)
    await frame_sender(live)(b"\x01\x02")
    assert len(ws.sent) == 1 and '"audio"' in ws.sent[0]


@pytest.mark.anyio
async def test_a_stuck_send_is_aborted_by_the_watchdog_and_counted_sent() -> None:
    """One watchdog per connection stands in for a deadline per send: a drain that never ends fails the
    connection (the sender stops, the item counts as sent), and the items behind it stay queued."""
    from runtime.live import uplink as uplink_module

    live, ws = _sdk_session(vertexai=False)
    stuck = anyio.Event()

    async def never_drains(text: str) -> None:
        ws.sent.append(text)
        stuck.set()
        await anyio.sleep_forever()

    ws.send = never_drains  # type: ignore[method-assign]
    uplink = Uplink(10)
    for i in range(3):
        uplink.push_frame(Frame(bytes([i, i]), 0.0))
    failures: list[BaseException] = []
    with anyio.fail_after(10):
        await uplink_module.pump(live, uplink, anyio.Event(), failures.append, timeout_s=0.2)
    assert stuck.is_set() and len(ws.sent) == 1
    assert [type(f) for f in failures] == [TimeoutError]
    assert uplink.sent_frames == 1 and uplink.buffered_frames == 2


@pytest.mark.anyio
async def test_stop_ends_a_waiting_sender_and_cancellation_does_not_cut_a_send() -> None:
    """`stop` wakes an idle sender; cancelling the connection's tasks mid-send lets that send finish first."""
    from runtime.live import uplink as uplink_module

    live, ws = _sdk_session(vertexai=False)
    uplink = Uplink(10)
    stop = anyio.Event()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(partial(uplink_module.pump, timeout_s=5.0), live, uplink, stop, print)
            uplink.push_frame(Frame(b"\x00\x01", 0.0))
            await anyio.wait_all_tasks_blocked()
            stop.set()
        assert len(ws.sent) == 1 and uplink.sent_frames == 1

        release = anyio.Event()
        in_send = anyio.Event()

        async def slow_send(text: str) -> None:
            in_send.set()
            await release.wait()
            ws.sent.append(text)

        ws.send = slow_send  # type: ignore[method-assign]
        uplink.push_frame(Frame(b"\x02\x03", 0.0))
        async with anyio.create_task_group() as group:
            group.start_soon(partial(uplink_module.pump, timeout_s=5.0), live, uplink, anyio.Event(), print)
            await in_send.wait()
            group.cancel_scope.cancel()  # the connection is torn down while the frame is half-written
            release.set()
        assert len(ws.sent) == 2 and uplink.sent_frames == 2 and uplink.buffered_frames == 0
