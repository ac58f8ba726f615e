"""Tool calls: blocking waits for the response, NON_BLOCKING with scheduling, cancellation on barge-in."""

from __future__ import annotations

import logging

import pytest
from google.genai import types

from runtime.emulator import parse_scenario
from tests.emulator.helpers import (
    ANY_MODEL,
    audio_of,
    collect_until,
    generation_complete,
    interrupted,
    live,
    send_audio,
    silence,
    speech,
    text_of,
    turn_complete,
)

pytestmark = pytest.mark.anyio

TEXT_REPLIES = {"model": ANY_MODEL, "accept_any_model": True}
"""No current model replies in text: the tests of tool calls in text turns use a model served with lenient rules."""

SCENARIO = parse_scenario(
    {
        "speech_transcripts": ["set a timer", "never mind"],
        "rules": [
            {
                "when": {"text": "timer"},
                "then": [{"tool_call": {"name": "set_timer", "args": {"minutes": 5}}}, {"say": "Your timer is set."}],
            },
            {
                "when": {"text": "weather"},
                "then": [
                    {"say": "Let me check."},
                    {"tool_call": {"name": "weather", "args": {"city": "Paris"}}},
                    {"say_tool_result": "weather"},
                ],
            },
            {
                "when": {"text": "lookup"},
                "then": [
                    {"tool_call": {"name": "lookup", "args": {}}},
                    {"say": "While that runs, here is a long story about a robot and a lighthouse by the sea."},
                ],
            },
        ],
    }
)

DECLARATIONS = [
    types.FunctionDeclaration(name="set_timer", description="timer"),
    types.FunctionDeclaration(name="weather", description="weather"),
    types.FunctionDeclaration(name="lookup", description="slow lookup", behavior=types.Behavior.NON_BLOCKING),
]


def config(modality: types.Modality = types.Modality.TEXT) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=[modality], tools=[types.Tool(function_declarations=DECLARATIONS)]
    )


def tool_call(message: types.LiveServerMessage) -> bool:
    return message.tool_call is not None


async def say(session: object, text: str) -> None:
    await session.send_client_content(  # type: ignore[attr-defined]
        turns=types.Content(role="user", parts=[types.Part(text=text)])
    )


async def test_blocking_call_waits_for_the_response_then_speaks_its_result() -> None:
    async with live(config(), scenario_obj=SCENARIO, **TEXT_REPLIES) as (emulator, session):
        await say(session, "what's the weather?")
        before = await collect_until(session, tool_call)
        call = before[-1].tool_call.function_calls[0]  # type: ignore[union-attr,index]
        assert (call.name, call.args) == ("weather", {"city": "Paris"})
        assert not any(turn_complete(m) for m in before)
        response = types.FunctionResponse(id=call.id, name=call.name, response={"forecast": "Sunny, 21 degrees"})
        await session.send_tool_response(function_responses=[response])
        after = await collect_until(session, turn_complete)
    assert text_of(before) == "Let me check."
    assert text_of(after) == "Sunny, 21 degrees"
    sent_names = [list(e["msg"]) for e in emulator.records]
    assert ["tool_response"] in sent_names  # the SDK sends snake_case; the emulator reads it


async def test_non_blocking_call_keeps_talking_and_when_idle_result_follows_the_turn() -> None:
    async with live(config(), scenario_obj=SCENARIO, **TEXT_REPLIES) as (_emulator, session):
        await say(session, "lookup please")
        messages = await collect_until(session, turn_complete)
        call = next(m.tool_call.function_calls[0] for m in messages if m.tool_call)  # type: ignore[index]
        assert "long story" in text_of(messages)
        response = types.FunctionResponse(
            id=call.id,
            name="lookup",
            response={"result": "found it"},
            scheduling=types.FunctionResponseScheduling.WHEN_IDLE,
        )
        await session.send_tool_response(function_responses=[response])
        result = await collect_until(session, turn_complete)
    assert text_of(result) == "found it"


async def test_interrupt_scheduling_stops_current_audio_and_speaks_the_result() -> None:
    async with live(config(types.Modality.AUDIO), scenario_obj=SCENARIO) as (_emulator, session):
        await say(session, "lookup please")
        messages = await collect_until(session, tool_call)
        call = messages[-1].tool_call.function_calls[0]  # type: ignore[union-attr,index]
        await collect_until(session, lambda m: bool(audio_of([m])))
        response = types.FunctionResponse(
            id=call.id,
            name="lookup",
            response={"result": "done"},
            scheduling=types.FunctionResponseScheduling.INTERRUPT,
        )
        await session.send_tool_response(function_responses=[response])
        story_end = await collect_until(session, turn_complete)
        result = await collect_until(session, turn_complete)
    assert interrupted(story_end[0]) and not audio_of(story_end)  # the story ends: interrupted, turnComplete
    assert not any(generation_complete(m) for m in story_end)
    assert len(audio_of(result)) == len("done") * 60 * 48
    assert generation_complete(result[-2])


async def test_silent_scheduling_only_adds_to_context() -> None:
    async with live(config(), scenario_obj=SCENARIO, **TEXT_REPLIES) as (emulator, session):
        await say(session, "lookup please")
        messages = await collect_until(session, turn_complete)
        call = next(m.tool_call.function_calls[0] for m in messages if m.tool_call)  # type: ignore[index]
        response = types.FunctionResponse(
            id=call.id, name="lookup", response={"result": "quiet"}, scheduling=types.FunctionResponseScheduling.SILENT
        )
        await session.send_tool_response(function_responses=[response])
        await say(session, "hello")
        after = await collect_until(session, turn_complete)
    assert text_of(after) == "You said: hello"
    assert not any("quiet" in str(e["msg"]) for e in emulator.sent)


async def test_barge_in_during_a_pending_call_cancels_it() -> None:
    audio = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO], tools=[types.Tool(function_declarations=DECLARATIONS)]
    )
    async with live(audio, scenario_obj=SCENARIO) as (_emulator, session):
        await send_audio(session, speech(0.4) + silence(0.7))
        messages = await collect_until(session, tool_call)
        call_id = messages[-1].tool_call.function_calls[0].id  # type: ignore[union-attr,index]
        await send_audio(session, speech(0.4))
        turn_end = await collect_until(session, turn_complete)
    # The turn held by the call is interrupted like any turn: interrupted, the cancellation, its turnComplete.
    assert interrupted(turn_end[0])
    assert turn_end[1].tool_call_cancellation.ids == [call_id]  # type: ignore[union-attr]
    assert len(turn_end) == 3 and turn_end[2].usage_metadata is not None


async def test_a_scripted_call_of_an_undeclared_function_is_skipped_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The desk agent declares no tools; the shared demo scenario would have it call set_timer."""
    caplog.set_level(logging.WARNING, logger="runtime.emulator")
    no_tools = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    async with live(no_tools, scenario_obj=SCENARIO, **TEXT_REPLIES) as (emulator, session):
        for _ in range(3):
            await say(session, "set a timer")
            answer = await collect_until(session, turn_complete)
            assert text_of(answer) == "Your timer is set."
    assert not any("toolCall" in entry["msg"] for entry in emulator.sent)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and "set_timer" in warnings[0] and "did not declare" in warnings[0]


async def test_a_declared_function_is_still_called_when_others_are_not() -> None:
    only_weather = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="weather", description="weather")])],
    )
    async with live(only_weather, scenario_obj=SCENARIO, **TEXT_REPLIES) as (_emulator, session):
        await say(session, "set a timer")
        assert not any(m.tool_call for m in await collect_until(session, turn_complete))
        await say(session, "what's the weather?")
        call = (await collect_until(session, tool_call))[-1].tool_call.function_calls[0]  # type: ignore[union-attr,index]
    assert call.name == "weather"
