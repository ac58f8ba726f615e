"""A video file as a camera (`file:clip.mp4`): the frame at the time played so far, the clip looping.

Decoding needs PyAV (the `video` extra: FFmpeg in a `cp311-abi3-manylinux_2_28_aarch64` wheel) and Pillow for
the JPEG; both are imported on `open`, so agents without a clip never load them.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from runtime.video.jpeg import JPEG_QUALITY
from runtime.video.sources import SourceGone

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".avi", ".mov", ".webm", ".mjpeg"})


class ClipSource:
    """Plays the clip in real time from `open`; `read` gives the latest frame at or before the time played,
    and the clip starts over at its end. `clock` is injectable so a test steps time instead of waiting."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.name = f"file:{path}"
        self._clock = clock
        self._container: Any = None
        self._frames: Iterator[Any] | None = None
        self._current: Any = None
        self._pending: Any = None
        self._started = 0.0
        self._loop_offset_s = 0.0

    def open(self) -> None:
        if not self.path.is_file():
            raise SourceGone(f"{self.path}: no such file")
        try:
            import av
        except ImportError:
            raise SourceGone("a video file needs PyAV: install the `video` extra (pip install 'runtime[video]')") \
                from None
        try:
            self._container = av.open(str(self.path))
        except (OSError, av.FFmpegError) as error:
            raise SourceGone(f"{self.path}: {error}") from None
        self._restart()
        self._started = self._clock()
        self._loop_offset_s = 0.0

    def _restart(self) -> None:
        self._container.seek(0)
        self._frames = iter(self._container.decode(video=0))
        self._current, self._pending = None, None

    def read(self) -> bytes:
        if self._frames is None:
            raise SourceGone(f"{self.name} is not open")
        played_s = self._clock() - self._started - self._loop_offset_s
        try:
            while True:
                frame = self._pending if self._pending is not None else next(self._frames)
                self._pending = None
                if self._current is not None and float(frame.time or 0.0) > played_s:
                    self._pending = frame  # not yet: shown on a later read
                    break
                self._current = frame
        except StopIteration:  # the end: start over, the rest of this read's time counts into the next loop
            self._loop_offset_s += float(self._current.time or 0.0) if self._current is not None else played_s
            last = self._current
            self._restart()
            if last is None:
                raise SourceGone(f"{self.path}: no video frames") from None
            return self._jpeg(last)
        except OSError as error:
            raise SourceGone(f"{self.path}: {error}") from None
        return self._jpeg(self._current)

    @staticmethod
    def _jpeg(frame: Any) -> bytes:
        out = io.BytesIO()
        frame.to_image().save(out, "JPEG", quality=JPEG_QUALITY)
        return out.getvalue()

    def close(self) -> None:
        container, self._container, self._frames = self._container, None, None
        self._current = self._pending = None
        if container is not None:
            container.close()
