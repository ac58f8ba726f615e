"""The frame source an agent file names (`video.source`)."""

from __future__ import annotations

from pathlib import Path

from runtime.video.clip import VIDEO_SUFFIXES, ClipSource
from runtime.video.sources import FileSource, FrameSource
from runtime.video.v4l2 import V4l2Source


def open_source(source: str, base_dir: Path, max_size_px: int = 1024) -> FrameSource:
    """The source an agent file names (`video.source`); a relative `file:` path is the agent file's folder's."""
    if source.startswith("file:"):
        path = Path(source.removeprefix("file:")).expanduser()
        path = path if path.is_absolute() else base_dir / path
        return ClipSource(path) if path.suffix.lower() in VIDEO_SUFFIXES else FileSource(path)
    return V4l2Source(source, max_size_px=max_size_px)
