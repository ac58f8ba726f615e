"""Camera frames as the service takes them: `realtimeInput.video`, each frame priced in the context and recorded.

What the service does, and where that is written:
- `realtimeInput.video` is a Blob (google-genai 3.x `live.py` `send_realtime_input(video=...)`, the v1beta
  `BidiGenerateContentRealtimeInput`); clients send JPEG (`image/jpeg`) at about 1 fps.
- A frame costs 258 tokens at the default media resolution and 66 at `MEDIA_RESOLUTION_LOW` (Gemini API
  "Understand and count tokens"; google-genai `types.MediaResolution` says LOW is 64 tokens of image), and is
  reported under the VIDEO modality of `promptTokensDetails` (google-genai `types.MediaModality`).
- An audio+video session without context window compression ends after 2 minutes (the Live API reference's
  session limits; /work/shared/live-protocol.md "Limits"), as an audio session does after 15 minutes.
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from typing import Any

from runtime.agentfile.video_tokens import VIDEO_FRAME_TOKENS, VIDEO_FRAME_TOKENS_LOW
from runtime.video.jpeg import image_size

LOW_RESOLUTION = "MEDIA_RESOLUTION_LOW"


@dataclass(frozen=True)
class FrameSeen:
    """One frame as it arrived: for tests and the emulator's record (size, time)."""

    conn: int
    t: float
    """Seconds since the emulator started (the record's clock)."""
    mime_type: str
    size_bytes: int
    width_px: int
    """0 when the image's header could not be read."""
    height_px: int
    tokens: int


def frame_tokens(setup: dict[str, Any]) -> int:
    """What one frame costs under this setup's `generationConfig.mediaResolution`."""
    resolution = setup.get("generationConfig", {}).get("mediaResolution")
    return VIDEO_FRAME_TOKENS_LOW if resolution == LOW_RESOLUTION else VIDEO_FRAME_TOKENS


def read_frame(blob: dict[str, Any], *, conn: int, started: float, tokens: int) -> FrameSeen:
    """A `video` Blob as the record keeps it; the bytes themselves are not kept."""
    try:
        data = base64.urlsafe_b64decode(_padded(str(blob.get("data", "")).replace("+", "-").replace("/", "_")))
    except (binascii.Error, ValueError):
        data = b""
    width, height = image_size(data)
    return FrameSeen(conn, round(time.monotonic() - started, 6), str(blob.get("mimeType", "")), len(data),
                     width, height, tokens)


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)
