"""`runtime validate`'s checks of the `video:` section: the service's limits that a camera runs into."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from runtime.agentfile import catalogue
from runtime.agentfile.spec import AgentSpec
from runtime.agentfile.video_tokens import VIDEO_FRAME_TOKENS, video_tokens_per_s

KeyPath = tuple[str | int, ...]

HEADROOM_WARN_S = 60.0
"""Seconds of frames that must fit between the compression trigger and the context window. The service
compresses between turns: a conversation that streams frames past the trigger for longer than the room left
fills the window and the session ends ("The input token count ... exceeds the maximum")."""


class Reporter(Protocol):
    """`runtime.agentfile.checks._Context` as this module uses it."""

    spec: AgentSpec
    model: catalogue.ModelInfo | None
    base_dir: Path
    """The agent file's folder: `file:` sources are relative to it."""

    def error(self, loc: KeyPath, message: str, hint: str = "", *, key: bool = False) -> None: ...

    def warn(self, loc: KeyPath, message: str, hint: str = "", *, key: bool = False) -> None: ...

    def has(self, loc: KeyPath) -> bool: ...


def check_video(c: Reporter) -> None:
    """Video needs a model that takes it and context compression (an audio+video session without it ends after
    2 minutes: /work/shared/live-protocol.md "Limits", the Live API reference's session limits table), and a
    frame rate the compression can keep up with."""
    spec = c.spec
    if spec.session.video and spec.video.source is None:
        c.error(("session", "video"), "`session.video` does not say where frames come from",
                "remove it and set `video: {source: ...}` (v4l2:/dev/video0, a camera name, file:PATH)")
    video = spec.video
    if video.source is None:
        return
    if c.model is not None and not c.model.features.video:
        c.error(("video", "source"), f"`{c.model.id}` does not take video input", "use a model with video")
    compression = spec.context.compression
    if not compression.enabled:
        loc: KeyPath = ("context", "compression") if c.has(("context", "compression")) else ("video", "source")
        c.error(loc, "an audio+video session without context compression ends after 2 minutes",
                "turn `context.compression` on, or remove `video.source`")
        return
    _check_source(c)
    if c.model is None:
        return
    _check_headroom(c, c.model.context_window_tokens, compression.trigger_tokens, compression.target_tokens)


def _check_source(c: Reporter) -> None:
    """A `file:` source that is not there yet only warns (frames start when it appears, as a camera plugged in
    later does); `when: conversation` needs a mode that has conversations."""
    video = c.spec.video
    source = video.source or ""
    if source.startswith("file:"):
        path = Path(source.removeprefix("file:")).expanduser()
        if not (path if path.is_absolute() else c.base_dir / path).exists():
            c.warn(("video", "source"), f"`{path}` does not exist (yet): no frames are sent until it does",
                   "a path relative to the agent file's folder, to an image or a folder of images")
    if video.when == "conversation" and c.spec.activity.mode == "server":
        c.warn(("video", "when"), "`server` mode has no conversation of its own: frames flow the whole session",
               "use `when: always`, or `activity.mode: wake_word` or `push_to_talk`")


def _check_headroom(c: Reporter, window: int, trigger: int, target: int) -> None:
    rate = video_tokens_per_s(c.spec.video.fps)
    headroom_s = (window - trigger) / rate
    if headroom_s >= HEADROOM_WARN_S:
        return
    c.warn(
        ("video", "fps"),
        f"{c.spec.video.fps:g} fps is {rate:.0f} tokens a second ({VIDEO_FRAME_TOKENS} a frame, with the audio): "
        f"{window - trigger} tokens between `trigger_tokens` and the context window ({window}) last "
        f"{headroom_s:.0f} s, and compression keeps about {target / rate:.0f} s of the conversation",
        f"lower `video.fps`, or lower `context.compression.trigger_tokens` to leave {HEADROOM_WARN_S:.0f} s "
        f"({rate * HEADROOM_WARN_S:.0f} tokens) of room",
    )
