"""A wake-word agent with a camera, whole: the real `AgentSession` over the real SDK against the emulator, the
wake-word mode's own listener opening and closing the camera. The emulator's record of frames is the proof."""

from __future__ import annotations

import itertools
import statistics
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime.agentfile.spec import AgentSpec
from runtime.audio.files import NullIn, NullOut
from runtime.daemon.modes import camera_with_conversation
from runtime.emulator import EmulatorOptions, EmulatorThread
from runtime.emulator.server import Emulator
from runtime.live.endpoint import Endpoint
from runtime.live.session import AgentSession
from runtime.retry import RetryPolicy
from runtime.wake.lifecycle import ConversationEvent, ConversationState
from tests.video.images import write_image

pytestmark = pytest.mark.anyio

FPS = 5.0


def session_for(spec: AgentSpec, emulator: Emulator, tmp_path: Path) -> AgentSession:
    return AgentSession(
        spec, name="kiosk", base_dir=tmp_path,
        endpoint=Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="test-key"),
        audio_in=NullIn(), audio_out=NullOut(), state_dir=tmp_path / "state",
        policy=RetryPolicy(first_backoff_s=0.05, longest_backoff_s=0.2),
    )


async def until(condition: object, timeout_s: float = 20.0) -> None:
    with anyio.fail_after(timeout_s):
        while not condition():  # type: ignore[operator]
            await anyio.sleep(0.02)  # the emulator runs in its own thread and has no event to wait on


def realtime_input(record: dict[str, Any]) -> dict[str, Any]:
    """The record's real-time input, if any (the SDK writes `realtime_input`; the service takes both)."""
    message = record["msg"]
    return dict(message.get("realtime_input") or message.get("realtimeInput") or {})


def texts(emulator: Emulator) -> int:
    """Text turns received."""
    return sum(1 for record in emulator.records if "text" in realtime_input(record))


async def test_frames_flow_at_fps_only_while_a_conversation_is_open(tmp_path: Path) -> None:
    write_image(tmp_path / "shelf.jpg", 2048, 1536)
    spec = AgentSpec.model_validate({
        "model": "gemini-3.8-live", "activity": {"mode": "wake_word"},
        "video": {"source": "file:shelf.jpg", "fps": FPS},
    })
    with EmulatorThread(EmulatorOptions()) as emulator:
        session = session_for(spec, emulator, tmp_path)
        assert session.video is not None
        conversation = camera_with_conversation(session.video)
        async with anyio.create_task_group() as group:
            await group.start(session.run)
            await anyio.sleep(0.5)  # before any conversation: the camera stays shut
            assert emulator.frames == [] and session.video.opened == 0
            for number in (1, 2):
                conversation(ConversationEvent(ConversationState.CONVERSATION, 0.0, "wake"))
                await until(lambda n=number: len([f for f in emulator.frames if f.t > 0]) >= 4 * n)
                conversation(ConversationEvent(ConversationState.LISTENING, 0.0, "idle"))
                await until(lambda: not session.video.is_open)
                # A text turn queued now reaches the emulator after every frame queued before it.
                await session.send_text(f"marker {number}")
                await until(lambda n=number: texts(emulator) >= n)
                if number == 1:
                    first = list(emulator.frames)
                    await anyio.sleep(0.6)  # three frame intervals between conversations: nothing is sent
                    assert emulator.frames == first
            group.cancel_scope.cancel()
        frames = list(emulator.frames)
    assert session.video.opened == 2
    assert {(f.width_px, f.height_px, f.mime_type) for f in frames} == {(1024, 768, "image/jpeg")}
    gaps = [later.t - earlier.t for earlier, later in itertools.pairwise(first)]  # one conversation's frames
    print(f"\n{len(frames)} frames in two conversations; median gap {statistics.median(gaps):.3f} s at {FPS} fps")
    assert statistics.median(gaps) >= 0.8 / FPS, "never faster than fps"


async def test_a_real_wake_gate_opens_the_camera_for_its_conversation_only(tmp_path: Path) -> None:
    """The wake-word detector of tests/wake (a tone) in front of the session: frames follow the wake word and
    stop with the idle timeout; a text turn sent after the conversation ended arrives after every frame."""
    from runtime.wake.gate import WakeGate
    from runtime.wake.mute import MuteSwitch
    from tests.wake.scenes import ClockedSpeaker, PacedMic, Scene, babble, tone, tone_detector

    write_image(tmp_path / "shelf.jpg", 640, 480)
    scene = Scene(12.0)
    scene.add(0.5, babble(1.5), "chatter")
    scene.add(2.5, tone(0.4), "wake")
    scene.add(3.1, babble(1.2, seed=2), "request")
    connected = anyio.Event()
    mic = PacedMic(scene.write(tmp_path / "mic.wav"), connected)
    gate = WakeGate(mic, tone_detector(), idle_timeout_s=3.0, mute=MuteSwitch())
    spec = AgentSpec.model_validate({
        "model": "gemini-3.8-live", "activity": {"mode": "wake_word"},
        "video": {"source": "file:shelf.jpg", "fps": FPS},
    })
    woke_at: list[float] = []
    ended = anyio.Event()

    def on_event(event: ConversationEvent) -> None:
        if event.state is ConversationState.CONVERSATION:
            woke_at.append(time.monotonic())
        elif woke_at:
            ended.set()

    with EmulatorThread(EmulatorOptions()) as emulator:
        session = AgentSession(
            spec, name="kiosk", base_dir=tmp_path,
            endpoint=Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="test-key"),
            audio_in=gate, audio_out=ClockedSpeaker(mic), state_dir=tmp_path / "state",
            policy=RetryPolicy(first_backoff_s=0.05, longest_backoff_s=0.2),
        )
        assert session.video is not None
        gate.add_listener(camera_with_conversation(session.video))  # what WakeWordMode.runnable adds
        gate.add_listener(on_event)
        async with anyio.create_task_group() as group:
            await group.start(session.run)
            connected.set()
            with anyio.fail_after(30):
                await ended.wait()
            await session.send_text("after the conversation")
            await until(lambda: texts(emulator) >= 1)
            group.cancel_scope.cancel()
        frames, records = list(emulator.frames), list(emulator.records)
    inputs = [(record["mono"], realtime_input(record)) for record in records]
    video_at = [at for at, realtime in inputs if "video" in realtime]
    text_at = [at for at, realtime in inputs if "text" in realtime]
    print(f"\n{len(frames)} frames in one conversation")
    assert len(woke_at) == 1 and len(frames) == len(video_at) > 0, "one conversation, with frames"
    assert min(video_at) >= woke_at[0], "no frame before the wake word"
    assert max(video_at) < text_at[0], "no frame after the conversation ended"


async def test_push_to_talk_opens_the_camera_while_talking(tmp_path: Path) -> None:
    write_image(tmp_path / "shelf.jpg", 640, 480)
    spec = AgentSpec.model_validate({
        "model": "gemini-3.8-live", "activity": {"mode": "push_to_talk"},
        "video": {"source": "file:shelf.jpg", "fps": FPS},
    })
    with EmulatorThread(EmulatorOptions()) as emulator:
        session = session_for(spec, emulator, tmp_path)
        assert session.video is not None
        async with anyio.create_task_group() as group:
            await group.start(session.run)
            assert not session.video.wanted
            session.set_talking(True)  # the button pressed
            await until(lambda: len(emulator.frames) >= 3)
            session.set_talking(False)  # released
            await until(lambda: not session.video.is_open)
            await session.send_text("released")
            await until(lambda: texts(emulator) >= 1)
            group.cancel_scope.cancel()
        inputs = [realtime_input(record) for record in emulator.records]
    kinds = [key for realtime in inputs for key in realtime if key in ("video", "text", "activity_start",
                                                                         "activity_end", "activityStart",
                                                                         "activityEnd")]
    assert kinds[0] in ("activity_start", "activityStart") and kinds[-1] == "text"
    assert "video" not in kinds[kinds.index(next(k for k in kinds if k in ("activity_end", "activityEnd"))) + 1:]
