"""The uplink buffer: bounded, oldest dropped and counted, failed sends first in line again."""

from __future__ import annotations

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
    await pump(object(), uplink, anyio.Event(), failures.append)  # type: ignore[arg-type]
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
