"""Each model's rules, as the catalogue records them, through the real SDK: closes with their codes and reasons,
input rules, and the per-model message shapes (runtime/data/models.yaml; runtime/emulator/rules.py, replies.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.genai import errors, types

from runtime.agentfile import catalogue
from runtime.emulator import parse_scenario
from tests.emulator.helpers import (
    ANY_MODEL,
    audio_of,
    client_for,
    collect_until,
    connect_refused,
    emulating,
    live,
    text_of,
    tool_call_of,
    transcript_of,
    turn_complete,
)

pytestmark = pytest.mark.anyio

TEXT = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
SPOKEN = types.LiveConnectConfig(
    response_modalities=[types.Modality.AUDIO], output_audio_transcription=types.AudioTranscriptionConfig()
)
LIVE_31 = "gemini-3.1-flash-live-preview"
NATIVE_12 = "gemini-2.5-flash-native-audio-preview-12-2025"
INVALID = "Request contains an invalid argument."


def not_found(model: str, version: str) -> str:
    """The service's close reason for a model it does not serve, as clients quote it (google/adk-samples#23)."""
    reason = (f"models/{model} is not found for API version {version}, or is not supported for bidiGenerateContent."
              " Call ListModels to see the list of available models and their supported methods.")
    return reason.encode()[:123].decode()


@pytest.mark.parametrize("version", ["v1beta", "v1alpha"])
@pytest.mark.parametrize("model", ["gemini-2.0-flash-live-001", "gemini-live-2.5-flash-preview", "gemini-9-live-typo"])
async def test_a_shut_down_or_unknown_model_closes_1008_with_the_services_reason(model: str, version: str) -> None:
    async with emulating() as emulator:
        refused = await connect_refused(client_for(emulator, api_version=version), SPOKEN, model)
    assert refused.code == 1008
    assert refused.details == not_found(model, version)
    assert len(refused.details.encode()) == 123  # cut like every close reason


async def test_accept_any_model_serves_a_shut_down_model_by_its_rules_and_an_unknown_one_leniently() -> None:
    async with emulating(accept_any_model=True) as emulator:
        for model in ("gemini-2.0-flash-live-001", ANY_MODEL):
            async with client_for(emulator).aio.live.connect(model=model, config=TEXT) as session:
                await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="hi")]))
                assert text_of(await collect_until(session, turn_complete)) == "You said: hi"


@pytest.mark.parametrize(
    ("model", "code", "reason"),
    [
        (NATIVE_12, 1007, "Cannot extract voices from a non-audio request."),  # kizuna-ai-lab/sokuji#93
        ("gemini-2.5-flash-native-audio-preview-09-2025", 1007, "Cannot extract voices from a non-audio request."),
        ("gemini-2.5-flash-native-audio-latest", 1007, "Cannot extract voices from a non-audio request."),
        (LIVE_31, 1011, "Internal error encountered."),  # googleapis/python-genai#2238
        ("gemini-3.8-live", 1007, INVALID),
        ("gemini-3.8-live-extended-thinking", 1007, INVALID),
    ],
)
async def test_a_text_reply_on_a_model_that_only_speaks_is_refused(model: str, code: int, reason: str) -> None:
    async with emulating() as emulator:
        refused = await connect_refused(client_for(emulator), TEXT, model)
    assert (refused.code, refused.details) == (code, reason)


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        (LIVE_31, {"proactivity": types.ProactivityConfig(proactive_audio=True)}),
        ("gemini-3.8-live", {"proactivity": types.ProactivityConfig(proactive_audio=False)}),
        ("gemini-3.8-live", {"thinking_config": types.ThinkingConfig(thinking_budget=512)}),
        (LIVE_31, {"thinking_config": types.ThinkingConfig(thinking_budget=512)}),
    ],
)
async def test_a_setup_asking_for_what_the_model_lacks_is_refused(model: str, extra: dict[str, Any]) -> None:
    config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO], **extra)
    async with emulating(check_client_messages=False) as emulator:
        refused = await connect_refused(client_for(emulator, api_version="v1alpha"), config, model)
    assert (refused.code, refused.details) == (1007, INVALID)


async def test_3_1_never_answers_a_setup_with_affective_dialog() -> None:
    """PatterAI/Patter#210: no setupComplete and no close, the client's connect times out (the conformance trace
    tests/conformance/traces/affective-dialog-3.1-setup-never-answered.jsonl); the next setup is served."""
    import anyio

    config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO], enable_affective_dialog=True)
    async with emulating(check_client_messages=False) as emulator:
        with anyio.move_on_after(1.0) as waited:
            async with client_for(emulator, api_version="v1alpha").aio.live.connect(model=LIVE_31, config=config):
                pass
        assert waited.cancelled_caught, "connect() returned although the setup was never answered"
        plain = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
        async with client_for(emulator).aio.live.connect(model=LIVE_31, config=plain):
            pass
        assert emulator.connections == 2


async def test_native_audio_takes_the_features_3_1_refuses() -> None:
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO], enable_affective_dialog=True,
        proactivity=types.ProactivityConfig(proactive_audio=True),
        thinking_config=types.ThinkingConfig(thinking_budget=512),
    )
    async with live(config, model=NATIVE_12, check_client_messages=False) as (_emulator, session):
        await session.send_realtime_input(text="hello")
        assert audio_of(await collect_until(session, turn_complete))


def history(*words: str) -> list[types.Content]:
    """Alternating user and model turns."""
    roles = ("user", "model") * len(words)
    return [types.Content(role=role, parts=[types.Part(text=text)]) for role, text in zip(roles, words, strict=False)]


async def test_3_1_refuses_client_content_mid_session_and_takes_typed_text_as_realtime_input() -> None:
    async with live(SPOKEN, model=LIVE_31) as (_emulator, session):
        await session.send_realtime_input(text="hello")
        assert transcript_of(await collect_until(session, turn_complete)) == "You said: hello"
        await session.send_client_content(turns=history("and now?"))
        with pytest.raises(errors.APIError) as caught:
            await collect_until(session, turn_complete)
    assert (caught.value.code, caught.value.details) == (1007, INVALID)


async def test_3_1_refuses_client_content_as_history_unless_the_setup_asks_for_it() -> None:
    async with live(SPOKEN, model=LIVE_31) as (_emulator, session):
        await session.send_client_content(turns=history("my name is Ada", "Hello Ada."), turn_complete=False)
        with pytest.raises(errors.APIError) as caught:
            await collect_until(session, turn_complete)
    assert (caught.value.code, caught.value.details) == (1007, INVALID)


async def test_3_1_takes_initial_history_before_the_first_realtime_input_and_refuses_it_after() -> None:
    config = SPOKEN.model_copy(update={"history_config": types.HistoryConfig(initial_history_in_client_content=True)})
    # historyConfig is newer than the published v1beta protos the client-side fidelity check parses against
    async with live(config, model=LIVE_31, check_client_messages=False) as (emulator, session):
        await session.send_client_content(turns=history("my name is Ada", "Hello Ada."), turn_complete=False)
        await session.send_realtime_input(text="what is my name?")
        answer = await collect_until(session, turn_complete)
        await session.send_client_content(turns=history("my name is Bob"), turn_complete=False)
        with pytest.raises(errors.APIError) as caught:
            await collect_until(session, turn_complete)
    assert transcript_of(answer) == "You said: what is my name?"
    assert answer[-1].usage_metadata is not None and answer[-1].usage_metadata.prompt_token_count
    assert (caught.value.code, caught.value.details) == (1007, INVALID)
    setup = emulator.records[0]["msg"]["setup"]
    assert setup["historyConfig"] == {"initial_history_in_client_content": True}  # as the SDK spells it


async def test_media_chunks_are_refused_on_3_1_and_taken_on_2_5() -> None:
    chunk = types.Blob(data=bytes(640), mime_type="audio/pcm;rate=16000")
    async with live(SPOKEN, model=LIVE_31) as (emulator, session):
        await session.send_realtime_input(media=chunk)
        with pytest.raises(errors.APIError) as caught:
            await collect_until(session, turn_complete)
    assert (caught.value.code, caught.value.details) == (
        1007, "realtime_input.media_chunks is deprecated. Use audio, video, or text instead."
    )
    assert emulator.audio_bytes_received() == b""
    async with live(SPOKEN, model=NATIVE_12) as (emulator, session):
        await session.send_realtime_input(media=chunk)
        await session.send_realtime_input(text="still here")
        assert transcript_of(await collect_until(session, turn_complete)) == "You said: still here"
    assert len(emulator.audio_bytes_received()) == 640


def server_contents(emulator: Any) -> list[dict[str, Any]]:
    """Every server message after setupComplete that holds serverContent, as it went on the wire."""
    return [entry["msg"] for entry in emulator.sent if "serverContent" in entry["msg"]]


async def test_3_1_sends_usage_alone_before_the_reply_and_several_fields_in_one_message() -> None:
    async with live(SPOKEN, model=LIVE_31) as (emulator, session):
        await session.send_realtime_input(text="hello there")
        messages = await collect_until(session, turn_complete)
    wire = server_contents(emulator)
    assert wire[0]["serverContent"] == {} and wire[0]["usageMetadata"]["promptTokenCount"] > 0
    first = messages[0]
    assert first.usage_metadata is not None and first.server_content is not None
    assert first.server_content.model_dump(exclude_none=True) == {}  # what the SDK makes of it: nothing but usage
    together = [m for m in wire if {"modelTurn", "outputTranscription"} <= set(m["serverContent"])]
    assert together, "audio and its transcription ride in the same message"
    last = wire[-1]
    assert {"modelTurn", "generationComplete", "turnComplete"} <= set(last["serverContent"]) and "usageMetadata" in last
    assert transcript_of(messages) == "You said: hello there"
    assert len(audio_of(messages)) == len("You said: hello there") * 60 * 48


async def test_2_5_sends_one_field_a_message_and_no_usage_before_the_reply() -> None:
    async with live(SPOKEN, model=NATIVE_12) as (emulator, session):
        await session.send_realtime_input(text="hello there")
        messages = await collect_until(session, turn_complete)
    wire = server_contents(emulator)
    assert all(len(message["serverContent"]) == 1 for message in wire)
    assert "modelTurn" in wire[0]["serverContent"] or "outputTranscription" in wire[0]["serverContent"]
    assert [list(m["serverContent"]) for m in wire[-2:]] == [["generationComplete"], ["turnComplete"]]
    assert "usageMetadata" in wire[-1]
    assert transcript_of(messages) == "You said: hello there"


@pytest.mark.parametrize("model", [LIVE_31, NATIVE_12, "gemini-3.8-live"])
async def test_output_transcription_comes_in_sub_word_pieces(model: str) -> None:
    reply = "Can I please have your account number"
    scenario = parse_scenario({"rules": [{"when": {"text": "account"}, "then": [{"say": reply}]}]})
    async with live(SPOKEN, model=model, scenario_obj=scenario) as (_emulator, session):
        await session.send_realtime_input(text="account")
        messages = await collect_until(session, turn_complete)
    pieces = [
        m.server_content.output_transcription.text or ""
        for m in messages
        if m.server_content and m.server_content.output_transcription
    ]
    assert "".join(pieces) == reply  # joined as they come, without added spaces (google-gemini/cookbook#951)
    split_words = [piece for piece in pieces if piece.strip() and piece.strip() not in reply.split()]
    assert split_words, f"no piece splits a word: {pieces}"


async def test_prompt_tokens_carry_each_models_overhead() -> None:
    prompts: dict[str, int] = {}
    async with emulating(accept_any_model=True) as emulator:
        for model in (ANY_MODEL, LIVE_31, NATIVE_12, "gemini-2.5-flash-native-audio-latest"):
            async with client_for(emulator).aio.live.connect(model=model, config=SPOKEN) as session:
                await session.send_realtime_input(text="hi")
                usage = (await collect_until(session, turn_complete))[-1].usage_metadata
                assert usage is not None and usage.prompt_token_count is not None
                prompts[model] = usage.prompt_token_count
    visible = prompts[ANY_MODEL]  # the lenient rules add nothing
    for model in (LIVE_31, NATIVE_12, "gemini-2.5-flash-native-audio-latest"):
        info = catalogue.lookup(model)
        assert info is not None
        assert prompts[model] - visible == info.output.prompt_token_overhead > 0


async def test_the_context_window_is_the_models_own_from_the_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model described in a user models file, with a tiny window: the emulator enforces that window."""
    models = tmp_path / "models.yaml"
    models.write_text(
        "models:\n  - id: gemini-9-live\n    like: gemini-3.8-live\n"
        "    limits: {context_window_tokens: 60, source: 'unconfirmed: a test model'}\n"
        "    lifecycle: {status: current, source: 'unconfirmed: a test model'}\n"
    )
    monkeypatch.setenv(catalogue.ENV_VAR, str(models))
    async with live(SPOKEN, model="gemini-9-live") as (_emulator, session):
        await session.send_realtime_input(text="short")
        await collect_until(session, turn_complete)
        await session.send_realtime_input(text="a much longer question " * 20)
        with pytest.raises(errors.APIError) as caught:
            await collect_until(session, turn_complete)
    assert caught.value.code == 1007
    assert str(caught.value.details).endswith("exceeds the maximum number of tokens allowed (60).")


TOOLS = types.LiveConnectConfig(
    response_modalities=[types.Modality.AUDIO],
    tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="lookup", description="Look it up.")])],
)
LOOKUP = parse_scenario({"rules": [{"when": {"text": "look"}, "then": [
    {"tool_call": {"name": "lookup", "args": {}}}, {"say": "Meanwhile."},
]}]})


@pytest.mark.parametrize(("model", "waits"), [("gemini-3.8-live", False), (LIVE_31, True), (NATIVE_12, True)])
async def test_a_declaration_without_behavior_follows_the_models_default(model: str, waits: bool) -> None:
    """3.8 calls such a function asynchronously (the turn goes on); the others wait for its response."""
    async with live(TOOLS, model=model, scenario_obj=LOOKUP) as (_emulator, session):
        await session.send_realtime_input(text="look it up")
        before = await collect_until(session, tool_call_of)
        call = before[-1].tool_call.function_calls[0]  # type: ignore[union-attr,index]
        if not waits:
            assert audio_of(await collect_until(session, turn_complete))  # said without the response
            return
        await session.send_tool_response(function_responses=[
            types.FunctionResponse(id=call.id, name="lookup", response={"result": "found"})
        ])
        assert audio_of(await collect_until(session, turn_complete))


async def test_3_8_waits_for_a_function_declared_blocking() -> None:
    blocking = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        tools=[types.Tool(function_declarations=[
            types.FunctionDeclaration(name="lookup", description="Look it up.", behavior=types.Behavior.BLOCKING)
        ])],
    )
    async with live(blocking, model="gemini-3.8-live", scenario_obj=LOOKUP) as (emulator, session):
        await session.send_realtime_input(text="look it up")
        before = await collect_until(session, tool_call_of)
        said_before = len(emulator.sent)
        call = before[-1].tool_call.function_calls[0]  # type: ignore[union-attr,index]
        await session.send_tool_response(function_responses=[
            types.FunctionResponse(id=call.id, name="lookup", response={"result": "found"})
        ])
        after = await collect_until(session, turn_complete)
    assert said_before == len(emulator.sent) - len(after)  # nothing was said until the response came
    assert audio_of(after)
