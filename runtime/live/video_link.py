"""Camera frames into the Live session: the agent file's `video:` section turned into a feed, and each frame
sent as `realtimeInput.video`, a JPEG Blob (google-genai 3.x `AsyncSession.send_realtime_input(video=...)`;
the v1beta `BidiGenerateContentRealtimeInput.video`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.agentfile.spec import AgentSpec
from runtime.live.uplink import Message, Uplink
from runtime.video.feed import VideoFeed
from runtime.video.locate import open_source

if TYPE_CHECKING:
    from google.genai.live import AsyncSession

JPEG = "image/jpeg"


def video_feed(spec: AgentSpec, base_dir: Path) -> VideoFeed | None:
    """The agent's camera, or None without `video.source`. Frames are wanted from the start when `when` is
    `always`, and in `server` mode, where the whole session is one conversation; otherwise the activity mode
    turns them on and off with the conversation (`want`)."""
    video = spec.video
    if video.source is None:
        return None
    mode = spec.activity.mode
    wanted = video.frames_when(mode) == "always" or mode == "server"
    source = open_source(video.source, base_dir, video.max_size_px)
    return VideoFeed(source, fps=video.fps, max_size_px=video.max_size_px, wanted=wanted)


class FrameSender:
    """Queues each frame on the uplink, at most one at a time: while disconnected frames are dropped, not
    hoarded, so a reconnect sends the newest view and not a backlog of stale ones."""

    def __init__(self, uplink: Uplink) -> None:
        self._uplink = uplink
        self._queued = False
        self.sent = 0
        self.dropped = 0

    def __call__(self, jpeg: bytes) -> None:
        if self._queued:
            self.dropped += 1
            return
        self._queued = True
        self._uplink.push_message(Message("video", self._sender(jpeg)))

    def _sender(self, jpeg: bytes) -> Callable[[AsyncSession], Awaitable[None]]:
        from google.genai import types

        blob = types.Blob(data=jpeg, mime_type=JPEG)

        async def send(live: AsyncSession) -> None:
            self._queued = False
            await live.send_realtime_input(video=blob)
            self.sent += 1

        return send
