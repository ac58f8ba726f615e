"""Resumption handles, goAway and the connection deadline, session and context-window limits."""

from __future__ import annotations

import pytest
from google.genai import errors, types

from tests.emulator.helpers import (
    ANY_MODEL,
    client_for,
    collect_until,
    connect_refused,
    emulating,
    lenient_live,
    text_of,
    turn_complete,
)

pytestmark = pytest.mark.anyio

ANY = {"accept_any_model": True}
"""Text replies and mid-session `clientContent`: generic behaviour, on a model served with lenient rules."""


def resumable(handle: str | None = None, **extra: object) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        session_resumption=types.SessionResumptionConfig(handle=handle),
        **extra,  # type: ignore[arg-type]
    )


async def ask(session: object, text: str) -> list[types.LiveServerMessage]:
    await session.send_client_content(  # type: ignore[attr-defined]
        turns=types.Content(role="user", parts=[types.Part(text=text)])
    )
    return await collect_until(session, turn_complete)


def handle_update(message: types.LiveServerMessage) -> bool:
    update = message.session_resumption_update
    return bool(update and update.resumable and update.new_handle)


async def test_handles_are_resumable_only_at_turn_boundaries_and_resume_keeps_history() -> None:
    async with emulating(**ANY) as emulator:
        client = client_for(emulator)
        async with client.aio.live.connect(model=ANY_MODEL, config=resumable()) as session:
            first = await collect_until(session, handle_update)
            turn = await ask(session, "remember the number forty two")
            last = await collect_until(session, handle_update)
        updates = [m.session_resumption_update for m in first + turn + last if m.session_resumption_update]
        assert [u.resumable for u in updates] == [True, False, True]
        prompt_before = turn[-1].usage_metadata.prompt_token_count  # type: ignore[union-attr]
        handle = last[-1].session_resumption_update.new_handle  # type: ignore[union-attr]
        async with client.aio.live.connect(model=ANY_MODEL, config=resumable(handle)) as session:
            again = await ask(session, "what was it?")
    assert handle != updates[0].new_handle
    assert again[-1].usage_metadata.prompt_token_count > prompt_before  # type: ignore[union-attr,operator]


async def test_resuming_while_the_old_socket_is_open_closes_1011() -> None:
    async with emulating(**ANY) as emulator:
        client = client_for(emulator)
        async with client.aio.live.connect(model=ANY_MODEL, config=resumable()) as session:
            handle = (await collect_until(session, handle_update))[-1].session_resumption_update.new_handle  # type: ignore[union-attr]
            refused = await connect_refused(client, resumable(handle), ANY_MODEL)
    assert refused.code == 1011


async def test_unknown_handle_closes_1008_session_not_found() -> None:
    async with emulating(**ANY) as emulator:
        refused = await connect_refused(client_for(emulator), resumable("no-such-handle"), ANY_MODEL)
    assert (refused.code, refused.details) == (1008, "BidiGenerateContent session not found")


async def test_expired_handle_closes_1008() -> None:
    async with emulating(**ANY, handle_ttl_s=0.0) as emulator:
        client = client_for(emulator)
        async with client.aio.live.connect(model=ANY_MODEL, config=resumable()) as session:
            handle = (await collect_until(session, handle_update))[-1].session_resumption_update.new_handle  # type: ignore[union-attr]
        refused = await connect_refused(client, resumable(handle), ANY_MODEL)
    assert refused.code == 1008


async def test_go_away_announces_the_deadline_close_1011() -> None:
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    async with lenient_live(config, go_away_after_s=0.3, connection_limit_s=0.8) as (_emulator, session):
        seen = await collect_until(session, lambda m: m.go_away is not None)
        with pytest.raises(errors.APIError) as caught:
            await collect_until(session, turn_complete)
    assert seen[-1].go_away.time_left == "0.5s"  # type: ignore[union-attr]
    assert caught.value.code == 1011
    assert caught.value.details == "Deadline expired before operation could complete."


async def test_session_without_compression_ends_at_the_session_limit() -> None:
    config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
    async with lenient_live(config, session_limit_s=0.5) as (_emulator, session):
        with pytest.raises(errors.APIError) as caught:
            await collect_until(session, turn_complete)
    assert caught.value.code == 1011


async def test_compression_lifts_the_session_limit() -> None:
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        context_window_compression=types.ContextWindowCompressionConfig(sliding_window=types.SlidingWindow()),
    )
    async with lenient_live(config, session_limit_s=0.2) as (_emulator, session):
        import anyio

        await anyio.sleep(0.4)  # past the limit: a session without compression would be gone
        assert text_of(await ask(session, "still here")) == "You said: still here"


async def test_full_context_window_closes_the_session_without_compression() -> None:
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    async with lenient_live(config, context_window_tokens=300) as (_emulator, session):
        await ask(session, "x" * 400)
        with pytest.raises(errors.APIError) as caught:
            await ask(session, "y" * 400)
    assert caught.value.code == 1007
    assert "exceeds the maximum number of tokens" in str(caught.value.details)


async def test_sliding_window_compression_trims_the_context_to_the_target() -> None:
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        context_window_compression=types.ContextWindowCompressionConfig(
            trigger_tokens=300, sliding_window=types.SlidingWindow(target_tokens=150)
        ),
    )
    async with lenient_live(config, context_window_tokens=400) as (_emulator, session):
        prompts = []
        for _ in range(6):
            turn = await ask(session, "z" * 400)
            prompts.append(turn[-1].usage_metadata.prompt_token_count)  # type: ignore[union-attr]
    assert max(prompts) <= 300
    assert prompts[0] == 100


async def test_a_resumed_session_keeps_its_handles_valid_while_open() -> None:
    async with emulating(**ANY, handle_ttl_s=3.0) as emulator:  # the handle outlives the reconnect below
        client = client_for(emulator)
        async with client.aio.live.connect(model=ANY_MODEL, config=resumable()) as session:
            handle = (await collect_until(session, handle_update))[-1].session_resumption_update.new_handle  # type: ignore[union-attr]
        async with client.aio.live.connect(model=ANY_MODEL, config=resumable(handle)) as session:
            import anyio

            await anyio.sleep(3.1)  # longer than the handle lifetime, but the session is open
            latest = (await collect_until(session, handle_update))[-1].session_resumption_update.new_handle  # type: ignore[union-attr]
            await ask(session, "still resumable")
        async with client.aio.live.connect(model=ANY_MODEL, config=resumable(latest)) as session:
            assert text_of(await ask(session, "yes")) == "You said: yes"


async def test_a_text_only_session_has_no_session_length_limit() -> None:
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    async with lenient_live(config, session_limit_s=0.2) as (_emulator, session):
        import anyio

        await anyio.sleep(0.4)
        assert text_of(await ask(session, "text only")) == "You said: text only"
