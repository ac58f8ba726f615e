"""What a camera frame costs in the model's context, counted the way the service counts it.

Sources (checked 2026-12-07):
- Gemini API "Understand and count tokens", "Calculating multimodal input tokens": an image with both sides at
  most 384 px is 258 tokens; a larger one is cut into 768x768 tiles, 258 tokens each. Video is 258 tokens a
  frame at the default media resolution, sampled at 1 fps.
- google-genai 3.x `types.MediaResolution`: LOW is "64 tokens", MEDIUM "256 tokens" (the bare image tokens;
  the docs' 66 and 258 include a frame's overhead).
`realtimeInput.video` is streamed as video, so a frame costs the per-frame price whatever its size; an image
sent in a turn (`runtime chat /image`) is priced as an image.
"""

from __future__ import annotations

import math

VIDEO_FRAME_TOKENS = 258
"""One frame of `realtimeInput.video` at the default media resolution."""
VIDEO_FRAME_TOKENS_LOW = 66
"""One frame at `mediaResolution: MEDIA_RESOLUTION_LOW`."""
AUDIO_TOKENS_PER_S = 25
"""The Live API counts 25 tokens per second of audio (as the emulator does: runtime/emulator/state.py)."""
SMALL_IMAGE_PX = 384
TILE_PX = 768


def image_tokens(width_px: int, height_px: int) -> int:
    """An image in a turn: 258 tokens when both sides are <= 384 px, else 258 per 768x768 tile."""
    if width_px <= SMALL_IMAGE_PX and height_px <= SMALL_IMAGE_PX:
        return VIDEO_FRAME_TOKENS
    return VIDEO_FRAME_TOKENS * math.ceil(width_px / TILE_PX) * math.ceil(height_px / TILE_PX)


def video_tokens_per_s(fps: float, *, low_resolution: bool = False) -> float:
    """Context growth of a conversation with the camera on: its frames plus the microphone's audio."""
    per_frame = VIDEO_FRAME_TOKENS_LOW if low_resolution else VIDEO_FRAME_TOKENS
    return per_frame * fps + AUDIO_TOKENS_PER_S
