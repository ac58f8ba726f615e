"""The feed's pace and lifecycle: frames at fps while wanted, the source closed otherwise, a source that
disappears and comes back. Counts are taken over conditions, never against the clock."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from runtime.video.feed import VideoFeed
from runtime.video.jpeg import image_size
from runtime.video.sources import FileSource
from tests.video.images import write_image

pytestmark = pytest.mark.anyio


async def until(condition: object, timeout_s: float = 10.0) -> None:
    with anyio.fail_after(timeout_s):
        while not condition():  # type: ignore[operator]
            await anyio.sleep(0.01)


async def test_frames_flow_only_while_wanted_and_the_source_closes_between(tmp_path: Path) -> None:
    image = write_image(tmp_path / "shelf.jpg", 2048, 1536)
    feed = VideoFeed(FileSource(image), fps=20, max_size_px=1024, wanted=False)
    frames: list[bytes] = []
    async with anyio.create_task_group() as group:
        group.start_soon(feed.run, frames.append)
        await anyio.sleep(0.2)
        assert frames == [] and feed.opened == 0 and not feed.is_open
        feed.want(True)
        await until(lambda: len(frames) >= 3)
        feed.want(False)
        await until(lambda: not feed.is_open)
        stopped_at = len(frames)
        await anyio.sleep(0.2)
        assert len(frames) == stopped_at
        feed.want(True)
        await until(lambda: len(frames) >= stopped_at + 2)
        group.cancel_scope.cancel()
    assert feed.opened == 2
    assert {image_size(frame) for frame in frames} == {(1024, 768)}


async def test_a_file_that_disappears_and_returns_is_an_unplugged_camera(tmp_path: Path) -> None:
    image = write_image(tmp_path / "shelf.jpg", 320, 240)
    feed = VideoFeed(FileSource(image), fps=20, max_size_px=1024, wanted=True, retry_s=0.05)
    frames: list[bytes] = []
    async with anyio.create_task_group() as group:
        group.start_soon(feed.run, frames.append)
        await until(lambda: len(frames) >= 2)
        image.unlink()
        await until(lambda: not feed.is_open)
        gone_at = len(frames)
        await until(lambda: feed.opened == 1 and not feed.is_open)
        write_image(image, 320, 240, shade=200)
        await until(lambda: len(frames) >= gone_at + 2)
        group.cancel_scope.cancel()
    assert feed.opened == 2
    assert frames[0] != frames[-1]  # the new file's frames


async def test_the_privacy_switch_closes_the_camera_and_reopens_it(tmp_path: Path) -> None:
    from runtime.wake.mute import MuteSwitch

    image = write_image(tmp_path / "shelf.jpg", 320, 240)
    mute = MuteSwitch()
    feed = VideoFeed(FileSource(image), fps=20, max_size_px=1024, wanted=True)
    feed.follow(mute)
    frames: list[bytes] = []
    async with anyio.create_task_group() as group:
        group.start_soon(feed.run, frames.append)
        await until(lambda: len(frames) >= 2)
        await anyio.to_thread.run_sync(mute.set, True, "test")  # flipped on another thread, as a button does
        await until(lambda: not feed.is_open)
        muted_at = len(frames)
        await anyio.sleep(0.2)
        assert len(frames) == muted_at and not feed.is_open
        mute.set(False, "test")
        await until(lambda: len(frames) >= muted_at + 2)
        group.cancel_scope.cancel()
    assert feed.opened == 2
