"""Camera frames at the emulator: accepted, priced (258 a frame, 66 at low resolution), recorded with their size
and time, the 2-minute audio+video limit without compression, and a scenario rule that answers an image."""

from __future__ import annotations

import struct

import anyio
import pytest
from google.genai import errors, types

from runtime.emulator.scenario import parse_scenario
from runtime.video.jpeg import image_size
from tests.emulator.helpers import collect_until, lenient_live, text_of, turn_complete

pytestmark = pytest.mark.anyio

TEXT = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
AUDIO = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
COMPRESSED = types.LiveConnectConfig(
    response_modalities=[types.Modality.AUDIO],
    context_window_compression=types.ContextWindowCompressionConfig(sliding_window=types.SlidingWindow()),
)


def jpeg(width: int, height: int) -> bytes:
    """A JPEG's start, its start-of-frame segment and its end: all the emulator reads of a frame."""
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + bytes(9) + \
        b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9"


def frame(width: int = 640, height: int = 480) -> types.Blob:
    return types.Blob(data=jpeg(width, height), mime_type="image/jpeg")


def prompt_details(messages: list[types.LiveServerMessage]) -> dict[str, int]:
    usage = next(m.usage_metadata for m in reversed(messages) if m.usage_metadata)
    assert usage is not None
    return {str(d.modality.value if d.modality else ""): d.token_count or 0 for d in usage.prompt_tokens_details or []}


def test_the_size_of_a_jpeg_is_read_from_its_header() -> None:
    assert image_size(jpeg(1024, 576)) == (1024, 576)
    assert image_size(b"not an image") == (0, 0)


async def test_frames_are_recorded_with_their_size_and_counted_as_video() -> None:
    async with lenient_live(TEXT) as (emulator, session):
        for size in ((640, 480), (1024, 768), (320, 240)):
            await session.send_realtime_input(video=frame(*size))
        await session.send_realtime_input(text="what do you see?")
        messages = await collect_until(session, turn_complete)
    assert [(f.width_px, f.height_px, f.mime_type) for f in emulator.frames] == [
        (640, 480, "image/jpeg"), (1024, 768, "image/jpeg"), (320, 240, "image/jpeg")]
    assert all(f.size_bytes == len(jpeg(640, 480)) for f in emulator.frames)
    assert emulator.frames[0].t <= emulator.frames[1].t <= emulator.frames[2].t
    assert prompt_details(messages)["VIDEO"] == 3 * 258


async def test_low_media_resolution_makes_frames_cheaper() -> None:
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT],
                                     media_resolution=types.MediaResolution.MEDIA_RESOLUTION_LOW)
    async with lenient_live(config) as (emulator, session):
        await session.send_realtime_input(video=frame())
        await session.send_realtime_input(text="and now?")
        messages = await collect_until(session, turn_complete)
    assert [f.tokens for f in emulator.frames] == [66]
    assert prompt_details(messages)["VIDEO"] == 66


async def test_an_audio_and_video_session_without_compression_ends_at_the_video_limit() -> None:
    async with lenient_live(AUDIO, video_session_limit_s=0.3) as (_emulator, session):
        await session.send_realtime_input(video=frame())
        with pytest.raises(errors.APIError) as caught:
            await collect_until(session, turn_complete)
    assert caught.value.code == 1011
    assert "Maximum session duration reached." in str(caught.value.details)


async def test_a_first_frame_after_the_video_limit_ends_the_session() -> None:
    async with lenient_live(AUDIO, video_session_limit_s=0.2) as (_emulator, session):
        await anyio.sleep(0.3)  # an audio session without frames is still within its own (15-minute) limit
        await session.send_realtime_input(video=frame())
        with pytest.raises(errors.APIError) as caught:
            await collect_until(session, turn_complete)
    assert caught.value.code == 1011


async def test_compression_lifts_the_video_limit() -> None:
    async with lenient_live(COMPRESSED, video_session_limit_s=0.2) as (emulator, session):
        await session.send_realtime_input(video=frame())
        await anyio.sleep(0.4)  # past the limit
        await session.send_realtime_input(video=frame())
        await session.send_realtime_input(text="still here?")
        await collect_until(session, turn_complete)
    assert len(emulator.frames) == 2


async def test_a_scenario_rule_answers_an_image() -> None:
    scenario = parse_scenario({"rules": [{"when": {"image": True}, "then": [{"say": "I see a plant."}]},
                                         {"when": {"text": "hello"}, "then": [{"say": "Hi."}]}]})
    async with lenient_live(TEXT, scenario_obj=scenario) as (_emulator, session):
        await session.send_realtime_input(video=frame())
        assert text_of(await collect_until(session, turn_complete)) == "I see a plant."
        await session.send_realtime_input(text="hello")
        assert text_of(await collect_until(session, turn_complete)) == "Hi."
