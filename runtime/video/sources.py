"""Where frames come from: a `FrameSource` opens, reads one frame, closes (the camera's LED is the user's
privacy signal, so it is open only while frames are wanted).

`file:PATH` names an image or a folder of images (cycled in name order), or a video file
(`runtime.video.clip`); `v4l2:/dev/videoN` or a camera name substring names a V4L2 camera
(`runtime.video.v4l2`). A source that is gone raises `SourceGone`, as an
unplugged device does: the feed closes it and tries again later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from runtime.errors import DeviceError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})


class SourceGone(DeviceError):
    """The camera or the file is not there (now): try again later."""


class FrameSource(Protocol):
    """A camera or a stand-in for one; `read` blocks (the feed calls it in a worker thread)."""

    name: str

    def open(self) -> None:
        """Start capturing (raises `SourceGone` when the device is missing)."""

    def read(self) -> bytes:
        """The newest frame: JPEG or PNG bytes."""

    def close(self) -> None: ...


class FileSource:
    """An image, or a folder of images cycled in name order: a camera for tests, demos and kiosks showing
    what the folder shows. Each read reads the file again, so a file replaced on disk is seen, and one that
    disappears is a camera unplugged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file:{path}"
        self._next = 0
        self.opened = False

    def open(self) -> None:
        if not self.path.exists():
            raise SourceGone(f"{self.path}: no such file or folder")
        self.opened = True

    def read(self) -> bytes:
        if not self.opened:
            raise SourceGone(f"{self.name} is not open")
        file = self._pick()
        try:
            return file.read_bytes()
        except OSError as error:
            raise SourceGone(f"{file}: {error.strerror or error}") from None

    def _pick(self) -> Path:
        if not self.path.is_dir():
            return self.path
        images = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            raise SourceGone(f"{self.path}: no images (*.jpg, *.jpeg, *.png)")
        file = images[self._next % len(images)]
        self._next += 1
        return file

    def close(self) -> None:
        self.opened = False
