"""A full-featured setup, as the runtime sends it, is read without complaint."""

from __future__ import annotations

import pytest
from google.genai import types

from tests.emulator.helpers import NATIVE_MODEL, client_for, collect_until, emulating, transcript_of, turn_complete

pytestmark = pytest.mark.anyio

TIMER = types.FunctionDeclaration(
    name="set_timer",
    description="Set a kitchen timer.",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={"minutes": types.Schema(type=types.Type.INTEGER, description="How long.")},
        required=["minutes"],
    ),
)
LOOKUP = types.FunctionDeclaration(
    name="lookup",
    description="Look something up.",
    parameters_json_schema={"type": "object", "properties": {"q": {"type": "string"}}},
    behavior=types.Behavior.NON_BLOCKING,
)


def rich_config(**extra: object) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        system_instruction=types.Content(parts=[types.Part(text="You are a kitchen helper.")]),
        temperature=0.7,
        top_p=0.9,
        top_k=40,
        max_output_tokens=512,
        seed=7,
        speech_config=types.SpeechConfig(
            voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Kore")),
            language_code="en-US",
        ),
        thinking_config=types.ThinkingConfig(thinking_budget=0),
        media_resolution=types.MediaResolution.MEDIA_RESOLUTION_LOW,
        tools=[types.Tool(function_declarations=[TIMER, LOOKUP]), types.Tool(google_search=types.GoogleSearch())],
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(
                disabled=False,
                start_of_speech_sensitivity=types.StartSensitivity.START_SENSITIVITY_LOW,
                end_of_speech_sensitivity=types.EndSensitivity.END_SENSITIVITY_HIGH,
                prefix_padding_ms=40,
                silence_duration_ms=300,
            ),
            activity_handling=types.ActivityHandling.START_OF_ACTIVITY_INTERRUPTS,
            turn_coverage=types.TurnCoverage.TURN_INCLUDES_ONLY_ACTIVITY,
        ),
        session_resumption=types.SessionResumptionConfig(),
        context_window_compression=types.ContextWindowCompressionConfig(
            trigger_tokens=25600, sliding_window=types.SlidingWindow(target_tokens=12800)
        ),
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        **extra,  # type: ignore[arg-type]
    )


async def test_a_rich_setup_parses_on_both_sides() -> None:
    async with emulating() as emulator:
        client = client_for(emulator)
        async with client.aio.live.connect(model=NATIVE_MODEL, config=rich_config()) as session:
            await session.send_realtime_input(text="hello")
            assert transcript_of(await collect_until(session, turn_complete)) == "You said: hello"
    setup = emulator.records[0]["msg"]["setup"]
    assert setup["model"] == f"models/{NATIVE_MODEL}"


async def test_fields_newer_than_the_published_protos_are_accepted() -> None:
    extra = {"enable_affective_dialog": True, "proactivity": types.ProactivityConfig(proactive_audio=True)}
    async with emulating(check_client_messages=False) as emulator:
        client = client_for(emulator, api_version="v1alpha")
        async with client.aio.live.connect(model=NATIVE_MODEL, config=rich_config(**extra)) as session:
            await session.send_realtime_input(text="hello")
            assert transcript_of(await collect_until(session, turn_complete)) == "You said: hello"
    setup = emulator.records[0]["msg"]["setup"]
    assert setup["proactivity"] == {"proactive_audio": True}  # as the SDK sent it
