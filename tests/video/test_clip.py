"""A video file as a camera: the frame at the time played so far, looping; made here with PyAV."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
from PIL import Image

from runtime.video.clip import ClipSource
from runtime.video.locate import open_source

RED, BLUE = (220, 20, 20), (20, 20, 220)


def write_clip(path: Path, fps: int = 10) -> Path:
    """Two seconds at 320x240: red for the first, blue for the second."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index in range(2 * fps):
            colour = RED if index < fps else BLUE
            pixels = np.full((240, 320, 3), colour, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def colour(jpeg: bytes) -> str:
    red, _, blue = Image.open(io.BytesIO(jpeg)).convert("RGB").getpixel((160, 120))  # type: ignore[misc]
    return "red" if red > blue else "blue"


def test_a_clip_plays_in_real_time_and_loops(tmp_path: Path) -> None:
    now = [100.0]
    clip = ClipSource(write_clip(tmp_path / "clip.mp4"), clock=lambda: now[0])
    clip.open()
    seen = []
    for at_s in (0.0, 0.5, 1.2, 1.9, 2.4, 3.3):
        now[0] = 100.0 + at_s
        frame = clip.read()
        assert frame.startswith(b"\xff\xd8")
        seen.append(colour(frame))
    clip.close()
    assert seen == ["red", "red", "blue", "blue", "red", "blue"]


def test_a_file_source_with_a_video_suffix_is_a_clip(tmp_path: Path) -> None:
    assert isinstance(open_source("file:clip.mp4", tmp_path), ClipSource)
