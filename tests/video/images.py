"""Images the tests make: real JPEGs and PNGs, written with Pillow."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image


def image_bytes(width: int, height: int, fmt: str = "JPEG", shade: int = 90) -> bytes:
    image = Image.new("RGB", (width, height), (shade, 160, 40))
    for x in range(0, width, 16):  # some detail, so the JPEG is not trivially small
        for y in range(0, height, 16):
            image.putpixel((x, y), (255, (x * 7) % 256, (y * 3) % 256))
    out = io.BytesIO()
    image.save(out, fmt, quality=85) if fmt == "JPEG" else image.save(out, fmt)
    return out.getvalue()


def write_image(path: Path, width: int, height: int, fmt: str = "JPEG", shade: int = 90) -> Path:
    path.write_bytes(image_bytes(width, height, fmt, shade))
    return path
