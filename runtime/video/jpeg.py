"""Frames as the model takes them: JPEG, no larger than `max_size_px` on the long side.

A JPEG that already fits goes as it is (a UVC camera's MJPEG frame needs no decoding at all); only a larger
frame, or another image format, is decoded and re-encoded, with Pillow (the `video` extra), imported on first
use so that an agent whose frames fit never loads it.
"""

from __future__ import annotations

import io
import struct

from runtime.errors import DeviceError

JPEG_QUALITY = 85
"""Re-encoding quality: close to what UVC cameras send at 1024 px (a few hundred kilobytes at most)."""
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


class FrameError(DeviceError):
    """A frame that cannot be read or scaled (a broken image, or Pillow missing for one that must be)."""


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame or a PNG's header; (0, 0) when neither is readable."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if not data.startswith(b"\xff\xd8"):
        return 0, 0
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return 0, 0
        marker = data[at + 1]
        if marker == 0xFF:  # a fill byte before the marker
            at += 1
            continue
        (length,) = struct.unpack(">H", data[at + 2:at + 4])
        if marker in _SOF_MARKERS and at + 9 <= len(data):
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return int(width), int(height)
        at += 2 + length
    return 0, 0


def is_jpeg(data: bytes) -> bool:
    return data.startswith(b"\xff\xd8")


def fits(data: bytes, max_size_px: int) -> bool:
    """A JPEG whose long side is at most `max_size_px`: it goes without re-encoding."""
    width, height = image_size(data)
    return is_jpeg(data) and 0 < max(width, height) <= max_size_px


def fit_jpeg(data: bytes, max_size_px: int) -> bytes:
    """The frame as a JPEG no larger than `max_size_px`: the same bytes when it already is one."""
    if fits(data, max_size_px):
        return data
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise FrameError(
            f"a frame of {'x'.join(map(str, image_size(data)))} px must be scaled or re-encoded, which needs "
            "Pillow: install the `video` extra (pip install 'runtime[video]'), or use JPEGs that fit max_size_px"
        ) from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((max_size_px, max_size_px), Image.Resampling.BILINEAR)
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise FrameError(f"not an image Pillow can read: {error}") from None
    return out.getvalue()
