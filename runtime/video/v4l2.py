"""A UVC camera through V4L2, read as MJPEG: the camera's own JPEG frames, never decoded here.

The binding is linuxpy (the `video` extra): pure Python over ctypes and ioctl, a `py3-none-any` wheel (so
nothing to build on aarch64), maintained (0.25.0, August 2026), the successor of v4l2py. The other bindings
on PyPI are older and narrower: `v4l2` (2010) and `v4l2-fix` (2021) are ioctl constants for Python 2/3.x,
`v4l2-python3` (2024) the same constants, `pyv4l2` (2016) and `v4l2capture` (2016, a C extension to build) are
unmaintained. PyAV would decode frames we do not need decoded. Raspberry Pi CSI cameras go through libcamera
(picamera2), not plain V4L2 capture: not supported here (docs/video.md).

No camera exists on the machine this was written on: the device path and name lookup are tested, capture only
as far as "no such device".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runtime.video.sources import SourceGone

logger = logging.getLogger(__name__)

SYSFS = Path("/sys/class/video4linux")
def capture_size(max_size_px: int) -> tuple[int, int]:
    """What the camera is asked for: 16:9 with the long side at `max_size_px`, so that the MJPEG size the driver
    picks (the nearest it has: 1024x576, 960x540, ...) usually passes through without re-encoding; a larger
    one is scaled by `fit_jpeg`."""
    return max_size_px, max_size_px * 9 // 16


def find_camera(source: str, sysfs: Path = SYSFS) -> Path:
    """`v4l2:/dev/videoN` as written; otherwise the first /dev/videoN whose name contains `source`
    (case-insensitive), as audio devices are found by a name substring."""
    if source.startswith("v4l2:"):
        return Path(source.removeprefix("v4l2:"))
    wanted = source.lower()
    nodes = sorted(sysfs.glob("video*"), key=lambda p: int(p.name.removeprefix("video") or 0)) \
        if sysfs.is_dir() else []
    for node in nodes:
        try:
            name = (node / "name").read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if wanted in name.lower():
            return Path("/dev") / node.name
    raise SourceGone(f"no camera whose name contains {source!r}")


class V4l2Source:
    """One V4L2 capture device, opened for MJPEG streaming while frames are wanted."""

    def __init__(self, source: str, sysfs: Path = SYSFS, max_size_px: int = 1024) -> None:
        self.name = source
        self._size = capture_size(max_size_px)
        self._source = source
        self._sysfs = sysfs
        self._device: Any = None
        self._capture: Any = None
        self._frames: Iterator[Any] | None = None

    def open(self) -> None:
        path = find_camera(self._source, self._sysfs)
        if not path.exists():
            raise SourceGone(f"{path}: no such camera")
        try:
            from linuxpy.video.device import BufferType, Device, VideoCapture  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise SourceGone("V4L2 cameras need linuxpy: install the `video` extra "
                             "(pip install 'runtime[video]')") from None
        try:
            device = Device(str(path), blocking=True)
            device.open()
            device.set_format(BufferType.VIDEO_CAPTURE, *self._size, "MJPG")
            capture = VideoCapture(device)
            capture.open()
        except OSError as error:
            raise SourceGone(f"{path}: {error.strerror or error}") from None
        self._device, self._capture, self._frames = device, capture, iter(capture)
        logger.info("camera %s open (MJPEG)", path)

    def read(self) -> bytes:
        if self._frames is None:
            raise SourceGone(f"{self.name} is not open")
        try:
            return bytes(next(self._frames).data)
        except (OSError, StopIteration) as error:
            raise SourceGone(f"{self.name}: {error}") from None

    def close(self) -> None:
        capture, device = self._capture, self._device
        self._capture = self._device = self._frames = None
        for part in (capture, device):
            if part is not None:
                try:
                    part.close()
                except OSError as error:  # an unplugged camera fails its own close: it is closed either way
                    logger.debug("closing %s: %s", self.name, error)
