"""The pace of frames: the source is open only while frames are wanted, one frame every 1/fps seconds.

`want(False)` closes the camera within one frame interval (its LED goes out); `want(True)` opens it again. A
source that is gone (a camera unplugged, a file removed) is closed and tried again every `retry_s`, like an
audio device: the session keeps its audio, video resumes when the source is back. The daemon's privacy
switch (`follow`) closes the camera as it closes the microphones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

import anyio

from runtime.video.jpeg import FrameError, fit_jpeg
from runtime.video.sources import FrameSource, SourceGone

logger = logging.getLogger(__name__)

RETRY_S = 1.0
"""Seconds between attempts to open a source that is gone."""


class PrivacySwitch(Protocol):
    """The daemon's mute switch as the camera sees it (`runtime.wake.mute.MuteSwitch` is one)."""

    @property
    def muted(self) -> bool: ...


class VideoFeed:
    """One agent's camera, driven by `run` in the session's task group; `want` is called on the event loop."""

    def __init__(
        self, source: FrameSource, *, fps: float, max_size_px: int, wanted: bool, retry_s: float = RETRY_S
    ) -> None:
        self.source = source
        self.interval_s = 1.0 / fps
        self.max_size_px = max_size_px
        self.retry_s = retry_s
        self._wanted = wanted
        self._changed = anyio.Event()
        self._gone = False
        self._privacy: PrivacySwitch | None = None
        self.opened = 0
        """How often the source was opened (a test reads it: the camera is open only while wanted)."""
        self.is_open = False

    @property
    def wanted(self) -> bool:
        return self._wanted

    def follow(self, switch: PrivacySwitch) -> None:
        """Close the camera while `switch` is muted. The switch flips on any thread (a signal, a button): it is
        read once a frame interval, so the camera closes within one interval of a mute, and no callback crosses
        threads."""
        self._privacy = switch

    @property
    def muted(self) -> bool:
        return self._privacy is not None and self._privacy.muted

    def want(self, wanted: bool) -> None:
        """Frames from now on, or none (the source closes)."""
        if wanted != self._wanted:
            self._wanted = wanted
            self._changed.set()
            self._changed = anyio.Event()

    async def run(self, send: Callable[[bytes], None]) -> None:
        """Forever: wait until frames are wanted, stream them, close the source when they are not."""
        while True:
            if not self._wanted:
                await self._changed.wait()
                continue
            if self.muted:
                await self._pause(self.interval_s)
                continue
            if await self._open():
                try:
                    await self._stream(send)
                finally:
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(self.source.close)
                        self.is_open = False
            else:
                await self._pause(self.retry_s)

    async def _open(self) -> bool:
        try:
            await anyio.to_thread.run_sync(self.source.open)
        except SourceGone as gone:
            self._went(gone)
            return False
        self.opened += 1
        self.is_open = True
        if self._gone:
            logger.info("video source %s is back", self.source.name)
            self._gone = False
        return True

    async def _stream(self, send: Callable[[bytes], None]) -> None:
        """Frames at `fps` while wanted; returns when not wanted, or when the source is gone."""
        next_at = time.monotonic()
        while self._wanted and not self.muted:
            try:
                frame = await anyio.to_thread.run_sync(self._read_fitted)
            except SourceGone as gone:
                self._went(gone)
                return
            except FrameError as bad:
                logger.warning("frame from %s skipped: %s", self.source.name, bad)
            else:
                if self._wanted and not self.muted:  # not a frame read as the conversation ended, or a mute came
                    send(frame)
            next_at = max(next_at + self.interval_s, time.monotonic())
            await self._pause(next_at - time.monotonic())

    def _read_fitted(self) -> bytes:
        return fit_jpeg(self.source.read(), self.max_size_px)

    async def _pause(self, seconds: float) -> None:
        """Sleep, cut short when frames stop (or start) being wanted."""
        with anyio.move_on_after(max(0.0, seconds)):
            await self._changed.wait()

    def _went(self, gone: SourceGone) -> None:
        if not self._gone:
            logger.warning("video source %s is gone (%s); retrying every %.0f s", self.source.name, gone,
                           self.retry_s)
        self._gone = True
