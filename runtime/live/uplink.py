"""What a session sends, kept across connections until one takes it: microphone frames and messages.

Delivery: an item is removed when a connection takes it and put back at the front when its send raised,
so it goes out on the next connection. A planned handover (goAway) stops sending between two items and
only then closes the socket, so every frame is sent exactly once. After an abrupt drop, frames whose
send raised are sent again; frames the socket had already accepted may have died in the kernel's buffer
with the connection and are not replayed (at most once: a repeated 20 ms of speech confuses recognition
more than a missing one).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import numpy as np

if TYPE_CHECKING:
    from google.genai.live import AsyncSession

logger = logging.getLogger(__name__)

MIC_MIME_TYPE = "audio/pcm;rate=16000"
VOICE_RMS = 300.0
"""Block RMS (int16 units) above which the microphone counts as hearing a voice."""
SEND_TIMEOUT_S = 5.0


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


class Uplink:
    """The microphone stream (frames and the activity marks between them, in order; bounded: the oldest
    frame is dropped and counted when full) plus a queue of other messages that go first."""

    def __init__(self, max_frames: int, *, agent: str = "") -> None:
        self.agent = agent
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

    def push_frame(self, frame: Frame) -> None:
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
        while True:
            if self._messages:
                return self._messages.popleft()
            if self._stream:
                item = self._stream.popleft()
                if isinstance(item, Frame):
                    self._frames -= 1
                return item
            self._wakeup = anyio.Event()
            await self._wakeup.wait()

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
            logger.warning("%s: microphone buffer full: %d blocks dropped so far", self.agent, self.dropped_frames)


async def send_item(live: AsyncSession, item: Item) -> None:
    """Put one item on the wire."""
    if isinstance(item, Message):
        await item.send(live)
        return
    from google.genai import types

    await live.send_realtime_input(audio=types.Blob(data=item.pcm, mime_type=MIC_MIME_TYPE))


async def pump(
    live: AsyncSession, uplink: Uplink, stop: anyio.Event, on_failure: Callable[[BaseException], Any]
) -> None:
    """Send items until `stop` is set (between two sends) or a send fails (the item is given back).

    Each send is shielded: cancelling a half-written send would leave it unknown whether it left.
    """
    while not stop.is_set():
        item = await _next_item(uplink, stop)
        if item is None:
            return
        with anyio.CancelScope(shield=True):
            failure = await _send_one(live, uplink, item)
        if failure is not None:
            on_failure(failure)
            return


async def _next_item(uplink: Uplink, stop: anyio.Event) -> Item | None:
    """The next item, or None once `stop` is set while waiting."""
    item: Item | None = None
    async with anyio.create_task_group() as waiter:

        async def stop_waiting() -> None:
            await stop.wait()
            waiter.cancel_scope.cancel()

        waiter.start_soon(stop_waiting)
        item = await uplink.take()
        waiter.cancel_scope.cancel()
    return item


async def _send_one(live: AsyncSession, uplink: Uplink, item: Item) -> BaseException | None:
    """Send one item; returns the connection failure that ends this sender, if any."""
    from websockets.exceptions import ConnectionClosed

    try:
        with anyio.fail_after(SEND_TIMEOUT_S):
            await send_item(live, item)
    except TimeoutError as exc:
        # The bytes were handed to the socket; only the drain stalled. Count it as sent.
        uplink.mark_sent(item)
        return exc
    except (ConnectionClosed, OSError) as exc:
        uplink.give_back(item)
        return exc
    except Exception as exc:
        # The SDK refused to build the message (a tool response without an id, ...): sending it again on
        # another connection would fail the same way, so it is dropped, loudly.
        logger.error("%s: dropping a %s the SDK cannot send: %s: %s", uplink.agent,
                     getattr(item, "kind", "frame"), type(exc).__name__, exc)
        return None
    uplink.mark_sent(item)
    return None


def is_voice(pcm: bytes) -> bool:
    """A block loud enough to be someone talking (a coarse energy check: handover timing, the watchdog)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    return bool(samples.size) and float(np.sqrt(np.mean(samples * samples))) >= VOICE_RMS
