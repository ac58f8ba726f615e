"""What a session sends, kept across connections until one takes it: microphone frames and messages.

Delivery: an item is removed when a connection takes it and put back at the front when its send raised,
so it goes out on the next connection. A planned handover (goAway) stops sending between two items and
only then closes the socket, so every frame is sent exactly once. After an abrupt drop, frames whose
send raised are sent again; frames the socket had already accepted may have died in the kernel's buffer
with the connection and are not replayed (at most once: a repeated 20 ms of speech confuses recognition
more than a missing one).

While the sender waits with nothing queued, a microphone frame is written by the task that captured it
(`Uplink.direct`), without waking the sender: one event-loop wake-up per 20 ms block instead of two.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import numpy as np

from runtime.live.sdk import abort, raw_socket, text_writer

if TYPE_CHECKING:
    from google.genai.live import AsyncSession

logger = logging.getLogger(__name__)

MIC_MIME_TYPE = "audio/pcm;rate=16000"
VOICE_RMS = 300.0
"""Block RMS (int16 units) above which the microphone counts as hearing a voice."""


@dataclass(frozen=True)
class Frame:
    """One microphone block."""

    pcm: bytes
    captured_at: float
    voice: bool = False
    """Loud enough to be speech: once sent, the server owes an answer (see `owed_since`)."""


@dataclass(frozen=True)
class Message:
    """Anything else the session sends: a tool response, text, an activity mark."""

    kind: str
    send: Callable[[AsyncSession], Awaitable[None]]
    expects_reply: bool = False
    """A text turn or a blocking tool's result: the server owes an answer once it is sent."""


Item = Frame | Message

STREAM_MARKS = frozenset({"activity_start", "activity_end", "audio_stream_end"})
"""Message kinds that belong between microphone frames (pushed with `push_mark`), not ahead of them."""


def _never() -> bool:
    return False


class Uplink:
    """The microphone stream (frames and the activity marks between them, in order; bounded: the oldest
    frame is dropped and counted when full) plus a queue of other messages that go first."""

    def __init__(self, max_frames: int) -> None:
        self.max_frames = max(1, max_frames)
        self._stream: deque[Item] = deque()
        self._frames = 0
        self._messages: deque[Message] = deque()
        self._wakeup = anyio.Event()
        self.dropped_frames = 0
        self.sent_frames = 0
        self.sent_bytes = 0
        self.owed_since: float | None = None
        """`time.monotonic()` of the first send since the server last spoke that calls for an answer."""
        self.direct: Callable[[Frame], bool] | None = None
        """Set by a connection's sender: writes a frame at once and says so, or declines (the frame is then
        queued). Used only when nothing is queued, so the order of what is sent never changes."""
        self.direct_frames = 0
        """Frames written by `direct` (the rest went through the sender's queue)."""

    def push_frame(self, frame: Frame) -> None:
        direct = self.direct
        if direct is not None and not self._stream and not self._messages and direct(frame):
            self.direct_frames += 1
            self.mark_sent(frame)
            return
        if self._frames >= self.max_frames:
            self._drop_oldest_frame()
        self._stream.append(frame)
        self._frames += 1
        self._wakeup.set()

    def push_mark(self, mark: Message) -> None:
        """An activity mark, kept in order with the frames around it."""
        self._stream.append(mark)
        self._wakeup.set()

    def push_message(self, message: Message) -> None:
        self._messages.append(message)
        self._wakeup.set()

    @property
    def buffered_frames(self) -> int:
        return self._frames

    async def take(self) -> Item:
        """The next item (messages before the stream), waiting for one; cancelling the wait loses nothing."""
        item = await self.take_unless(_never)
        assert item is not None
        return item

    async def take_unless(self, halted: Callable[[], bool]) -> Item | None:
        """Like `take`, but None as soon as `halted()` is true (checked before each item and on `wake`)."""
        while True:
            if halted():
                return None
            if self._messages:
                return self._messages.popleft()
            if self._stream:
                item = self._stream.popleft()
                if isinstance(item, Frame):
                    self._frames -= 1
                return item
            self._wakeup = anyio.Event()
            await self._wakeup.wait()

    def wake(self) -> None:
        """Wake a waiting `take_unless` so that it checks `halted()` again."""
        self._wakeup.set()

    def give_back(self, item: Item) -> None:
        """A send failed before the item surely left: it goes first on the next connection."""
        if isinstance(item, Frame):
            if self._frames >= self.max_frames:
                self.dropped_frames += 1
                return
            self._frames += 1
            self._stream.appendleft(item)
        elif item.kind in STREAM_MARKS:
            self._stream.appendleft(item)
        else:
            self._messages.appendleft(item)
        self._wakeup.set()

    def mark_sent(self, item: Item) -> None:
        if self.owed_since is None and (item.voice if isinstance(item, Frame) else item.expects_reply):
            self.owed_since = time.monotonic()
        if isinstance(item, Frame):
            self.sent_frames += 1
            self.sent_bytes += len(item.pcm)

    def _drop_oldest_frame(self) -> None:
        for index, item in enumerate(self._stream):
            if isinstance(item, Frame):
                del self._stream[index]
                break
        self._frames -= 1
        self.dropped_frames += 1
        if self.dropped_frames in (1, 10, 100) or self.dropped_frames % 1000 == 0:
            logger.warning("microphone buffer full: %d blocks dropped so far", self.dropped_frames)


async def send_item(live: AsyncSession, item: Item) -> None:
    """Put one item on the wire."""
    if isinstance(item, Message):
        await item.send(live)
    else:
        await frame_sender(live)(item.pcm)


def frame_sender(live: AsyncSession, *, fast: bool = True) -> Callable[[bytes], Awaitable[None]]:
    """How this connection sends a microphone block: the exact text `send_realtime_input(audio=Blob(...))`
    puts on the wire (tests/live/test_uplink.py compares the two), written to the SDK's WebSocket without
    building and validating pydantic models for every 20 ms block; the SDK's own call on Vertex AI or
    when `fast` is off (runtime/live/sdk.py says what this saves)."""
    socket = raw_socket(live) if fast else None
    if socket is not None:
        raw_send: Callable[[str], Awaitable[None]] = socket.send

        async def send_json(pcm: bytes) -> None:
            await raw_send(audio_frame_json(pcm))

        return send_json

    async def send_through_sdk(pcm: bytes) -> None:
        from google.genai import types

        await live.send_realtime_input(audio=types.Blob(data=pcm, mime_type=MIC_MIME_TYPE))

    return send_through_sdk


def audio_frame_json(pcm: bytes) -> str:
    """The SDK's `realtimeInput` message for one microphone block (URL-safe base64, its field names)."""
    data = base64.urlsafe_b64encode(pcm).decode("ascii")
    return _AUDIO_FRAME_HEAD + data + _AUDIO_FRAME_TAIL


_AUDIO_FRAME_HEAD = '{"realtime_input": {"audio": {"data": "'
_AUDIO_FRAME_TAIL = f'", "mime_type": "{MIC_MIME_TYPE}"}}}}}}'


async def pump(
    live: AsyncSession, uplink: Uplink, stop: anyio.Event, on_failure: Callable[[BaseException], Any],
    *, timeout_s: float, fast: bool = True,
) -> None:
    """Send items until `stop` is set (checked between two sends) or a send fails (the item is given back).

    One sender per connection, with no per-item task or cancel scope: sends run inside one shielded scope
    (cancelling a half-written send would leave it unknown whether it left), a watchdog aborts a send that
    is stuck for `timeout_s`, and `stop` or a cancellation from outside only wakes the sender's wait.
    """
    sender = _Sender(live, uplink, timeout_s=timeout_s, fast=fast)
    async with anyio.create_task_group() as group:
        group.start_soon(sender.halt_on, stop)
        with anyio.CancelScope(shield=True) as shielded:
            async with anyio.create_task_group() as inner:
                inner.start_soon(sender.watchdog, shielded)
                await sender.run()
                inner.cancel_scope.cancel()
        failure = sender.finish()
        group.cancel_scope.cancel()
    if failure is not None:
        on_failure(failure)


class _Sender:
    """One connection's sender, its watchdog and its stop watcher, sharing this state."""

    def __init__(self, live: AsyncSession, uplink: Uplink, *, timeout_s: float, fast: bool) -> None:
        self.live = live
        self.uplink = uplink
        self.timeout_s = timeout_s
        self.send_frame = frame_sender(live, fast=fast)
        socket = raw_socket(live) if fast else None
        self.write_now = text_writer(socket) if socket is not None else None
        self.halted = False
        self.in_flight: Item | None = None
        self.send_started = 0.0
        self.timed_out = False
        self.failure: BaseException | None = None

    async def halt_on(self, stop: anyio.Event) -> None:
        """Stop taking items once `stop` is set or the connection's tasks are cancelled."""
        try:
            await stop.wait()
        finally:
            self.halted = True
            self.uplink.wake()

    def is_halted(self) -> bool:
        return self.halted

    async def run(self) -> None:
        if self.write_now is not None:
            self.uplink.direct = self.write_direct
        try:
            while (item := await self.uplink.take_unless(self.is_halted)) is not None:
                self.in_flight, self.send_started = item, time.monotonic()
                self.failure = await _send_one(self.live, self.uplink, item, self.send_frame)
                self.in_flight = None
                if self.failure is not None:
                    return
        finally:
            if self.uplink.direct == self.write_direct:
                self.uplink.direct = None

    def write_direct(self, frame: Frame) -> bool:
        """A microphone frame written from the capturing task while this sender waits idle (no send of its
        own in flight, not halted), without waking it; False leaves the frame to the queue, whose send then
        waits, or fails and gives the frame back, as any other."""
        assert self.write_now is not None
        if self.halted or self.in_flight is not None:
            return False
        try:
            return self.write_now(audio_frame_json(frame.pcm))
        except Exception:  # what websockets' send does with an unexpected error: drop the connection
            logger.debug("direct microphone write failed; the frame goes through the queue", exc_info=True)
            abort(self.live)
            return False

    async def watchdog(self, shielded: anyio.CancelScope) -> None:
        """Abort a send still running `timeout_s` after it started (wakes about once per timeout)."""
        while True:
            left = self.timeout_s
            if self.in_flight is not None:
                left = self.send_started + self.timeout_s - time.monotonic()
                if left <= 0:
                    self.timed_out = True
                    shielded.cancel()
                    return
            await anyio.sleep(left)

    def finish(self) -> BaseException | None:
        """The failure that ended this sender. A timed-out send counts as sent: its bytes were handed to the
        socket, only the drain stalled."""
        if self.timed_out and self.in_flight is not None:
            self.uplink.mark_sent(self.in_flight)
            self.in_flight = None
            return TimeoutError(f"a send took longer than {self.timeout_s:g} s")
        return self.failure


async def _send_one(
    live: AsyncSession, uplink: Uplink, item: Item, send_frame: Callable[[bytes], Awaitable[None]]
) -> BaseException | None:
    """Send one item; returns the connection failure that ends this sender, if any."""
    from websockets.exceptions import ConnectionClosed

    try:
        if isinstance(item, Frame):
            await send_frame(item.pcm)
        else:
            await item.send(live)
    except (ConnectionClosed, OSError) as exc:
        uplink.give_back(item)
        return exc
    except Exception as exc:
        # The SDK refused to build the message (a tool response without an id, ...): sending it again on
        # another connection would fail the same way, so it is dropped, loudly.
        logger.error("dropping a %s the SDK cannot send: %s: %s", getattr(item, "kind", "frame"), type(exc).__name__,
                     exc)
        return None
    uplink.mark_sent(item)
    return None


def is_voice(pcm: bytes) -> bool:
    """A block loud enough to be someone talking (a coarse energy check: handover timing, the watchdog)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    return bool(samples.size) and float(np.dot(samples, samples)) >= VOICE_RMS * VOICE_RMS * samples.size
