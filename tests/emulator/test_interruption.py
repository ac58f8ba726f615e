"""Barge-in as the service does it: `interrupted`, then that turn's `turnComplete` with its usage, and only then
anything of the next turn (see LiveSession._interrupt for the sources)."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types

from runtime.emulator import Fault, parse_scenario
from runtime.emulator.state import AUDIO_TOKENS_PER_S
from tests.emulator.helpers import (
    audio_of,
    collect_until,
    generation_complete,
    interrupted,
    live,
    send_audio,
    silence,
    speech,
    turn_complete,
)

pytestmark = pytest.mark.anyio

STORY = "Once upon a time there was a tiny robot who loved music."
LONG_REPLY = parse_scenario(
    {
        "speech_transcripts": ["tell me a story", "stop"],
        "rules": [
            {"when": {"text": "story"}, "then": [{"say": STORY}]},
            {"when": {"text": "stop"}, "then": [{"say": "Okay."}]},
        ],
    }
)
BYTES_PER_CHAR = 60 * 48
"""The emulator's voice: 60 ms of 24 kHz PCM16 per character."""


def audio_config(**options: Any) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO], input_audio_transcription=types.AudioTranscriptionConfig(),
        **options,
    )


def kinds(entries: list[dict[str, Any]]) -> list[str]:
    """What each server message was, in wire order: audio, interrupted, generationComplete, turnComplete, ..."""
    named = []
    for entry in entries:
        message = entry["msg"]
        content = message.get("serverContent", {})
        if "modelTurn" in content:
            named.append("audio")
        named += [key for key in ("interrupted", "generationComplete", "turnComplete") if key in content]
        named += [key for key in ("toolCall", "toolCallCancellation", "sessionResumptionUpdate") if key in message]
    return named


async def test_barge_in_yields_interrupted_then_that_turns_turn_complete_before_any_new_audio() -> None:
    async with live(audio_config(), scenario_obj=LONG_REPLY) as (emulator, session):
        await send_audio(session, speech(0.4) + silence(0.7))
        story = await collect_until(session, lambda m: bool(audio_of([m])))
        await send_audio(session, speech(0.4))
        # One pass of the SDK's receive() ends at the interrupted turn's turnComplete: no audio after the cut.
        story += await collect_until(session, turn_complete)
        await send_audio(session, silence(0.7))
        answer = await collect_until(session, generation_complete)
        answer += await collect_until(session, turn_complete)
        sent = kinds(emulator.sent)
    cut = sent.index("interrupted")
    assert sent[cut : cut + 2] == ["interrupted", "turnComplete"]
    assert "generationComplete" not in sent[: cut + 2]  # an interrupted turn is never "done generating"
    assert sent[cut + 2 :].count("turnComplete") == 1 and sent[-2:] == ["generationComplete", "turnComplete"]
    end = story[-1]
    assert interrupted(story[-2]) and end.usage_metadata is not None and not audio_of(story[-2:])
    # The interrupted turn's usage counts what reached the client, not the whole story (87 tokens of audio).
    played_s = len(audio_of(story)) / 48000
    assert 0 < (end.usage_metadata.response_token_count or 0) <= played_s * AUDIO_TOKENS_PER_S + 1
    assert len(audio_of(answer)) == len("Okay.") * BYTES_PER_CHAR


async def test_the_interrupted_turn_end_is_a_turn_boundary_with_a_fresh_handle() -> None:
    config = audio_config(session_resumption=types.SessionResumptionConfig())
    async with live(config, scenario_obj=LONG_REPLY) as (emulator, session):
        await send_audio(session, speech(0.4) + silence(0.7))
        await collect_until(session, lambda m: bool(audio_of([m])))
        await send_audio(session, speech(0.4))
        await collect_until(session, turn_complete)
        handle = await collect_until(session, lambda m: m.session_resumption_update is not None)
    assert handle[-1].session_resumption_update.resumable  # type: ignore[union-attr]
    assert handle[-1].session_resumption_update.new_handle  # type: ignore[union-attr]
    sent = kinds(emulator.sent)
    cut = sent.index("interrupted")
    assert sent[cut : cut + 3] == ["interrupted", "turnComplete", "sessionResumptionUpdate"]


async def test_a_new_text_turn_ends_the_one_it_interrupts_first() -> None:
    scenario = parse_scenario({"rules": [{"when": {"text": "story"}, "then": [{"say": STORY}]}]})
    async with live(audio_config(), scenario_obj=scenario) as (emulator, session):
        await session.send_realtime_input(text="tell me a story")
        await collect_until(session, lambda m: bool(audio_of([m])))
        await session.send_realtime_input(text="hush")
        story_end = await collect_until(session, turn_complete)
        answer = await collect_until(session, turn_complete)
    assert interrupted(story_end[-2]) and not any(generation_complete(m) for m in story_end)
    assert len(audio_of(answer)) == len("You said: hush") * BYTES_PER_CHAR
    assert kinds(emulator.sent).count("turnComplete") == 2


async def test_the_late_turn_complete_fault_sends_it_after_the_next_replys_first_message() -> None:
    async with live(
        audio_config(), scenario_obj=LONG_REPLY, faults=(Fault(action="late_turn_complete"),)
    ) as (emulator, session):
        await send_audio(session, speech(0.4) + silence(0.7))
        await collect_until(session, lambda m: bool(audio_of([m])))
        await send_audio(session, speech(0.4) + silence(0.7))
        late = await collect_until(session, turn_complete)
        await collect_until(session, generation_complete)
        await collect_until(session, turn_complete)
        sent = kinds(emulator.sent)
    cut = sent.index("interrupted")
    assert sent[cut : cut + 3] == ["interrupted", "audio", "turnComplete"]
    assert len(audio_of(late)) == 40 * 48  # one 40 ms chunk of "Okay." came before the story's turnComplete
    assert sent.count("turnComplete") == 2 and sent[-2:] == ["generationComplete", "turnComplete"]
