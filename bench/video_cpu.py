"""CPU of camera frames at 1 fps and 1024 px: a JPEG that fits (passed through) against one re-encoded.

    .venv/bin/python -m bench.video_cpu [--frames 60]

Each case runs the feed's per-frame work (`FileSource.read` + `fit_jpeg`) plus the base64 the SDK applies,
back to back, and divides the process CPU time by the frame count: at 1 fps that is the CPU seconds per
second, i.e. the share of one core. Frames are made with Pillow (the `video` extra) the way a UVC camera's
MJPEG looks: a photo-like gradient with noise, quality 85.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import random
import tempfile
import time
from pathlib import Path

from PIL import Image

from runtime.video.jpeg import fit_jpeg
from runtime.video.sources import FileSource

CASES = (
    ("1024x576 JPEG, passed through", (1024, 576)),
    ("1280x720 JPEG, scaled to 1024x576", (1280, 720)),
    ("1920x1080 JPEG, scaled to 1024x576", (1920, 1080)),
)


def camera_like_jpeg(width: int, height: int) -> bytes:
    """A gradient with noise, so the JPEG is about as large as a real scene's."""
    rng = random.Random(width)
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    out = io.BytesIO()
    Image.blend(image, noise, 0.25).save(out, "JPEG", quality=85)
    return out.getvalue()


def cpu_per_frame_ms(path: Path, frames: int, max_size_px: int = 1024) -> float:
    source = FileSource(path)
    source.open()
    fit_jpeg(source.read(), max_size_px)  # warm: Pillow's import and first decoder
    started = time.process_time()
    for _ in range(frames):
        base64.b64encode(fit_jpeg(source.read(), max_size_px))
    return (time.process_time() - started) / frames * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.frames} frames per case")
    print("| case | frame bytes | CPU per frame | CPU at 1 fps (one core) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, (width, height) in CASES:
            path = Path(folder) / f"{width}x{height}.jpg"
            path.write_bytes(camera_like_jpeg(width, height))
            per_frame_ms = cpu_per_frame_ms(path, args.frames)
            print(f"| {name} | {path.stat().st_size} | {per_frame_ms:.2f} ms | {per_frame_ms / 10:.2f} % |")


if __name__ == "__main__":
    main()
