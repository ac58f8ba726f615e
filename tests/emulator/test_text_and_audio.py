"""Text and audio replies through the real google-genai client."""

from __future__ import annotations

import pytest
from google.genai import types

from tests.emulator.helpers import (
    ANY_MODEL,
    MODEL,
    audio_of,
    client_for,
    collect_until,
    emulating,
    live,
    text_of,
    turn_complete,
)

pytestmark = pytest.mark.anyio

ANY = {"accept_any_model": True}
"""Text replies: no current model gives them; these tests of the emulator's text path use `ANY_MODEL`."""


async def test_text_turn_gets_a_text_reply_with_usage() -> None:
    async with emulating(**ANY) as emulator:
        client = client_for(emulator)
        config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
        async with client.aio.live.connect(model=ANY_MODEL, config=config) as session:
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="hello there")]))
            messages = await collect_until(session, turn_complete)
    assert text_of(messages) == "You said: hello there"
    assert any(m.server_content and m.server_content.generation_complete for m in messages)
    usage = messages[-1].usage_metadata
    assert usage is not None and usage.response_token_count and usage.prompt_token_count
    assert usage.total_token_count == usage.prompt_token_count + usage.response_token_count


async def test_audio_reply_is_pcm_at_24k_in_40ms_chunks_with_output_transcript() -> None:
    async with emulating() as emulator:
        client = client_for(emulator)
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.AUDIO], output_audio_transcription=types.AudioTranscriptionConfig()
        )
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            await session.send_realtime_input(text="hi")
            messages = await collect_until(session, turn_complete)
    audio = audio_of(messages)
    reply = "You said: hi"
    assert len(audio) == len(reply) * 60 * 24 * 2  # 60 ms per character, 24 kHz, 16-bit
    mimes = {
        part.inline_data.mime_type
        for m in messages
        if m.server_content and m.server_content.model_turn
        for part in m.server_content.model_turn.parts or []
        if part.inline_data
    }
    assert mimes == {"audio/pcm;rate=24000"}
    chunk_sizes = [len(audio_of([m])) for m in messages if audio_of([m])]
    assert max(chunk_sizes) == 40 * 24 * 2
    transcript = "".join(
        m.server_content.output_transcription.text or ""
        for m in messages
        if m.server_content and m.server_content.output_transcription
    )
    assert transcript == reply
    stamps = [e["mono"] for e in emulator.sent if "modelTurn" in e["msg"].get("serverContent", {})]
    print(f"audio of {len(audio) / 48000:.2f} s streamed over {stamps[-1] - stamps[0]:.2f} s")


async def test_scenario_rule_drives_the_reply(tmp_path) -> None:  # type: ignore[no-untyped-def]
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("rules:\n  - when: {text: WEATHER}\n    then: [{say: 'Sunny all day.'}]\n")
    async with emulating(scenario=scenario, **ANY) as emulator:
        client = client_for(emulator)
        config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
        async with client.aio.live.connect(model=ANY_MODEL, config=config) as session:
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="the weather?")]))
            messages = await collect_until(session, turn_complete)
    assert text_of(messages) == "Sunny all day."


async def test_every_v1_version_and_the_default_double_slash_path_are_served() -> None:
    async with emulating(**ANY) as emulator:
        for version in ("v1", "v1beta", "v1alpha"):
            client = client_for(emulator, api_version=version)
            config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
            async with client.aio.live.connect(model=ANY_MODEL, config=config) as session:
                await session.send_realtime_input(text="x")
                assert text_of(await collect_until(session, turn_complete)) == "You said: x"
        trust = emulator.client_ssl_context()
        from google import genai

        slash_client = genai.Client(
            api_key="k",
            http_options=types.HttpOptions(base_url=emulator.base_url + "/", async_client_args={"ssl": trust}),
        )
        async with slash_client.aio.live.connect(model=ANY_MODEL, config=config) as session:
            await session.send_realtime_input(text="y")
            assert text_of(await collect_until(session, turn_complete)) == "You said: y"


async def test_turns_sent_without_turn_complete_are_answered_at_the_bare_turn_complete() -> None:
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    async with live(config, model=ANY_MODEL, **ANY) as (_emulator, session):
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="part one")]), turn_complete=False
        )
        await session.send_client_content()
        assert text_of(await collect_until(session, turn_complete)) == "You said: part one"


async def test_media_chunks_and_video_frames_are_accepted() -> None:
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    async with live(config, model=ANY_MODEL, **ANY) as (emulator, session):
        await session.send_realtime_input(video=types.Blob(data=b"\xff\xd8fake-jpeg", mime_type="image/jpeg"))
        await session.send_realtime_input(media=types.Blob(data=bytes(640), mime_type="audio/pcm;rate=16000"))
        await session.send_realtime_input(text="still fine")
        assert text_of(await collect_until(session, turn_complete)) == "You said: still fine"
    assert len(emulator.audio_bytes_received()) == 640


def test_emulator_thread_serves_synchronous_callers_and_stamps_messages() -> None:
    import time

    from runtime.emulator import EmulatorOptions, EmulatorThread

    async def one_turn(emulator: object) -> None:
        config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
        async with client_for(emulator).aio.live.connect(model=ANY_MODEL, config=config) as session:  # type: ignore[arg-type]
            await session.send_realtime_input(text="threaded")
            await collect_until(session, turn_complete)

    import anyio

    before = time.monotonic()
    with EmulatorThread(EmulatorOptions(accept_any_model=True)) as emulator:
        anyio.run(one_turn, emulator)
        assert emulator.connections == 1
        assert [list(r["msg"]) for r in emulator.records] == [["setup"], ["realtime_input"]]
        assert all(before <= e["mono"] <= time.monotonic() for e in emulator.records + emulator.sent)
        assert emulator.sent[0]["msg"] == {"setupComplete": {}}
