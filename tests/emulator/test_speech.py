"""Speech input: energy VAD with the setup's knobs, barge-in, manual activity, audioStreamEnd, transcripts."""

from __future__ import annotations

import pytest
from google.genai import errors, types

from runtime.emulator import parse_scenario
from runtime.emulator.vad import EnergyVad, VadEvent, VadSettings
from tests.emulator.helpers import (
    audio_of,
    collect_until,
    live,
    send_audio,
    silence,
    speech,
    turn_complete,
)

pytestmark = pytest.mark.anyio

LONG_REPLY = parse_scenario(
    {
        "speech_transcripts": ["tell me a story", "stop"],
        "rules": [
            {"when": {"text": "story"}, "then": [{"say": "Once upon a time there was a tiny robot who loved music."}]},
            {"when": {"text": "stop"}, "then": [{"say": "Okay."}]},
        ],
    }
)


def audio_config(**realtime: object) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        input_audio_transcription=types.AudioTranscriptionConfig(),
        realtime_input_config=types.RealtimeInputConfig(**realtime) if realtime else None,
    )


def test_vad_needs_prefix_padding_of_speech_and_silence_duration_to_end() -> None:
    vad = EnergyVad(VadSettings(prefix_padding_ms=100, silence_duration_ms=300))
    assert vad.feed(speech(0.08)) == []  # shorter than the prefix padding
    assert vad.feed(silence(0.1)) == []
    assert vad.feed(speech(0.2)) == [VadEvent.SPEECH_STARTED]
    assert vad.feed(silence(0.2)) == []
    assert vad.feed(silence(0.15)) == [VadEvent.SPEECH_ENDED]


def test_low_start_sensitivity_ignores_quiet_sound_that_high_sensitivity_hears() -> None:
    quiet = speech(0.3, level=900)
    assert EnergyVad(VadSettings(start_sensitivity="START_SENSITIVITY_HIGH")).feed(quiet) == [VadEvent.SPEECH_STARTED]
    assert EnergyVad(VadSettings(start_sensitivity="START_SENSITIVITY_LOW")).feed(quiet) == []


def test_vad_works_at_other_input_rates() -> None:
    vad = EnergyVad(VadSettings(), rate_hz=48000)
    assert vad.feed(speech(0.3, rate_hz=48000)) == [VadEvent.SPEECH_STARTED]


async def test_detected_speech_gets_transcript_and_default_reply() -> None:
    async with live(audio_config()) as (emulator, session):
        await send_audio(session, speech(0.6) + silence(0.8))
        messages = await collect_until(session, turn_complete)
    transcripts = [m.server_content.input_transcription for m in messages if m.server_content]
    assert [t.text for t in transcripts if t] == []  # no scenario transcripts: nothing to transcribe
    assert len(audio_of(messages)) == len("I heard you.") * 60 * 48
    assert emulator.audio_bytes_received() == speech(0.6) + silence(0.8)


async def test_scenario_transcripts_are_given_to_speech_turns_in_order() -> None:
    scenario = parse_scenario({"speech_transcripts": ["first words", "second words"]})
    async with live(audio_config(), scenario_obj=scenario) as (_emulator, session):
        heard = []
        for _ in range(2):
            await send_audio(session, speech(0.4) + silence(0.7))
            messages = await collect_until(session, turn_complete)
            heard += [
                m.server_content.input_transcription.text
                for m in messages
                if m.server_content and m.server_content.input_transcription
            ]
    assert heard == ["first words", "second words"]


async def test_no_interruption_lets_the_model_finish_then_answers() -> None:
    config = audio_config(activity_handling=types.ActivityHandling.NO_INTERRUPTION)
    async with live(config, scenario_obj=LONG_REPLY) as (_emulator, session):
        await send_audio(session, speech(0.4) + silence(0.7))
        await collect_until(session, lambda m: bool(audio_of([m])))
        await send_audio(session, speech(0.4) + silence(0.7))
        first = await collect_until(session, turn_complete)
        second = await collect_until(session, turn_complete)
    assert not any(m.server_content and m.server_content.interrupted for m in first + second)
    assert len(audio_of(second)) == len("Okay.") * 60 * 48


async def test_manual_activity_marks_the_turn_and_vad_is_off() -> None:
    config = audio_config(automatic_activity_detection=types.AutomaticActivityDetection(disabled=True))
    async with live(config) as (emulator, session):
        await send_audio(session, speech(0.5) + silence(1.0))  # no activityStart: ignored
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await send_audio(session, speech(0.3))
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        messages = await collect_until(session, turn_complete)
    assert len(audio_of(messages)) == len("I heard you.") * 60 * 48
    replies = [e for e in emulator.sent if e["msg"].get("serverContent", {}).get("turnComplete")]
    assert len(replies) == 1


async def test_activity_start_with_automatic_detection_closes_1007() -> None:
    async with live(audio_config()) as (_emulator, session):
        await session.send_realtime_input(activity_start=types.ActivityStart())
        with pytest.raises(errors.APIError) as caught:
            await collect_until(session, turn_complete)
    assert caught.value.code == 1007
    assert "automatic activity detection" in str(caught.value.details)


async def test_audio_stream_end_ends_the_speech_turn_without_waiting_for_silence() -> None:
    config = audio_config(automatic_activity_detection=types.AutomaticActivityDetection(silence_duration_ms=60000))
    async with live(config) as (_emulator, session):
        await send_audio(session, speech(0.5) + silence(0.5))
        await session.send_realtime_input(audio_stream_end=True)
        messages = await collect_until(session, turn_complete)
    assert len(audio_of(messages)) == len("I heard you.") * 60 * 48


async def test_other_input_rates_are_accepted() -> None:
    async with live(audio_config()) as (_emulator, session):
        await send_audio(session, speech(0.5, rate_hz=48000) + silence(0.8, rate_hz=48000), rate_hz=48000)
        messages = await collect_until(session, turn_complete)
    assert audio_of(messages)


async def test_a_whole_recording_in_one_message_is_answered_when_audio_stops() -> None:
    async with live(audio_config()) as (_emulator, session):
        await session.send_realtime_input(audio=types.Blob(data=speech(1.0), mime_type="audio/pcm;rate=16000"))
        messages = await collect_until(session, turn_complete)
    assert len(audio_of(messages)) == len("I heard you.") * 60 * 48
