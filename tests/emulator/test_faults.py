"""Close codes and injected faults, and exactly what the SDK raises for each."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import websockets
from google import genai
from google.genai import errors, types
from websockets.asyncio.client import connect

from runtime.emulator import Fault, load_faults
from runtime.emulator.turns import BAD_INPUT_AUDIO
from runtime.errors import RuntimeConfigError
from tests.emulator.helpers import (
    ANY_MODEL,
    MODEL,
    client_for,
    collect_until,
    connect_refused,
    emulating,
    lenient_live,
    live,
    text_of,
    turn_complete,
)

pytestmark = pytest.mark.anyio

TEXT = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
"""Text replies: no current model gives them, so these tests of generic behaviour use `ANY_MODEL`, accepted."""
ANY = {"accept_any_model": True}
PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (1000, "The operation was cancelled."),
        (1001, "Going away."),
        (1008, "Operation is not implemented, or supported, or enabled."),
        (1011, "The service is currently unavailable."),
    ],
)
async def test_close_fault_surfaces_as_api_error_with_code_and_reason(code: int, reason: str) -> None:
    closing = Fault(action="close", at=0.1, code=code, reason=reason)
    async with lenient_live(TEXT, faults=(closing,)) as (_emulator, session):
        with pytest.raises(errors.APIError) as caught:
            await collect_until(session, turn_complete)
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            await session.send_realtime_input(text="too late")
    assert (caught.value.code, caught.value.details) == (code, reason)


async def test_drop_is_a_tcp_reset_seen_as_1006() -> None:
    async with lenient_live(TEXT, faults=(Fault(action="drop", at=0.1),)) as (_emulator, session):
        with pytest.raises(errors.APIError) as caught:
            await collect_until(session, turn_complete)
    assert caught.value.code == 1006


async def test_fault_applies_only_to_its_connection_number() -> None:
    async with emulating(**ANY, faults=(Fault(action="drop", at=0.0, conn=1),)) as emulator:
        client = client_for(emulator)
        async with client.aio.live.connect(model=ANY_MODEL, config=TEXT) as session:
            with pytest.raises(errors.APIError):
                await collect_until(session, turn_complete)
        async with client.aio.live.connect(model=ANY_MODEL, config=TEXT) as session:
            await session.send_realtime_input(text="second")
            assert text_of(await collect_until(session, turn_complete)) == "You said: second"


async def test_a_once_fault_fires_on_the_first_connection_that_lives_long_enough_and_never_again() -> None:
    """Planned from connection 1 at 2 s: connection 1 ends at once (the client closes it), so connection 2
    gets the close; connection 3 does not."""
    once = Fault(action="close", at=2.0, code=1008, reason="Request violates a policy.", conn=1, once=True)
    async with emulating(**ANY, faults=(once,)) as emulator:
        client = client_for(emulator)
        async with client.aio.live.connect(model=ANY_MODEL, config=TEXT):
            pass  # connection 1 ends long before 2 s
        async with client.aio.live.connect(model=ANY_MODEL, config=TEXT) as session:
            with pytest.raises(errors.APIError) as caught:
                await collect_until(session, turn_complete)
        assert caught.value.code == 1008
        async with client.aio.live.connect(model=ANY_MODEL, config=TEXT) as session:
            await session.send_realtime_input(text="third")
            assert text_of(await collect_until(session, turn_complete)) == "You said: third"


def test_once_is_read_from_a_faults_file_and_must_be_a_flag(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text("- {action: close, at: 1, conn: 3, once: true}\n")
    assert load_faults(path)[0].once and load_faults(path)[0].applies_to(5)
    path.write_text("- {action: close, once: yes please}\n")
    with pytest.raises(RuntimeConfigError, match="`once` must be true or false"):
        load_faults(path)


async def test_delay_holds_server_messages() -> None:
    async with lenient_live(TEXT, faults=(Fault(action="delay", at=0.0, seconds=0.5),)) as (emulator, session):
        started = time.monotonic()
        await session.send_realtime_input(text="slow")
        messages = await collect_until(session, turn_complete)
        print(f"reply after {time.monotonic() - started:.2f} s with a 0.5 s delay fault")
    assert text_of(messages) == "You said: slow"
    reply_stamps = [e["mono"] for e in emulator.sent if "modelTurn" in e["msg"].get("serverContent", {})]
    assert reply_stamps[0] - emulator.sent[0]["mono"] >= 0.5  # held from just after setupComplete


async def test_garbage_frame_makes_receive_raise_value_error() -> None:
    async with lenient_live(TEXT, faults=(Fault(action="garbage", at=0.1),)) as (_emulator, session):
        with pytest.raises(ValueError, match="Failed to parse response"):
            await collect_until(session, turn_complete)


async def test_reject_setup_fails_connect() -> None:
    rejected = Fault(action="reject_setup", code=1008, reason="Quota exceeded.")
    async with emulating(**ANY, faults=(rejected,)) as emulator:
        refused = await connect_refused(client_for(emulator), TEXT, ANY_MODEL)
    assert (refused.code, refused.details) == (1008, "Quota exceeded.")


async def test_stall_setup_never_answers_until_the_client_gives_up() -> None:
    import anyio

    async with emulating(**ANY, faults=(Fault(action="stall_setup", conn=1),)) as emulator:
        with anyio.move_on_after(1.0) as waited:
            async with client_for(emulator).aio.live.connect(model=ANY_MODEL, config=TEXT):
                pass
        assert waited.cancelled_caught, "connect() returned although setup was never answered"
        async with client_for(emulator).aio.live.connect(model=ANY_MODEL, config=TEXT):
            pass  # the second connection is served as usual
        assert emulator.connections == 2


async def test_wrong_api_key_closes_1008_and_right_key_works() -> None:
    async with emulating(api_key="right", **ANY) as emulator:
        refused = await connect_refused(client_for(emulator, api_key="wrong"), TEXT, ANY_MODEL)
        async with client_for(emulator, api_key="right").aio.live.connect(model=ANY_MODEL, config=TEXT) as session:
            await session.send_realtime_input(text="ok")
            await collect_until(session, turn_complete)
    assert refused.code == 1008
    assert "API key not valid" in str(refused.details)


async def test_unknown_path_is_refused_at_the_handshake() -> None:
    async with emulating() as emulator:
        client = genai.Client(
            api_key="k",
            http_options=types.HttpOptions(
                base_url=emulator.base_url + "/nowhere", async_client_args={"ssl": emulator.client_ssl_context()}
            ),
        )
        with pytest.raises(websockets.exceptions.InvalidStatus) as caught:
            async with client.aio.live.connect(model=ANY_MODEL, config=TEXT):
                pass
    assert caught.value.response.status_code == 404


async def test_server_shutdown_closes_1001() -> None:
    async with emulating(**ANY) as emulator:
        session_cm = client_for(emulator).aio.live.connect(model=ANY_MODEL, config=TEXT)
        session = await session_cm.__aenter__()
    with pytest.raises(errors.APIError) as caught:
        await collect_until(session, turn_complete)
    await session_cm.__aexit__(None, None, None)
    assert caught.value.code == 1001


async def raw_close(emulator_url: str, trust: object, *frames: dict[str, object]) -> tuple[int, str]:
    """Send raw frames (what the SDK would never send) and return the close code and reason."""
    async with connect(emulator_url + PATH, ssl=trust) as ws:  # type: ignore[arg-type]
        for frame in frames:
            await ws.send(json.dumps(frame))
        try:
            while True:
                await ws.recv()
        except websockets.exceptions.ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code, closed.rcvd.reason


async def test_first_message_must_be_setup() -> None:
    async with emulating(check_client_messages=False) as emulator:
        code, reason = await raw_close(emulator.ws_url, emulator.client_ssl_context(), {"realtimeInput": {"text": "x"}})
    assert code == 1007 and "setup" in reason


async def test_unknown_field_closes_1007_naming_it() -> None:
    setup = {"setup": {"model": "models/m", "generationConfig": {"responseModalities": ["TEXT"], "bogusKnob": 1}}}
    async with emulating(check_client_messages=False) as emulator:
        code, reason = await raw_close(emulator.ws_url, emulator.client_ssl_context(), setup)
    assert code == 1007 and '"bogusKnob"' in reason and "generationConfig" in reason


async def test_invalid_enum_value_closes_1007() -> None:
    setup = {"setup": {"model": "models/m", "generation_config": {"response_modalities": ["SMELL"]}}}
    async with emulating(check_client_messages=False) as emulator:
        code, reason = await raw_close(emulator.ws_url, emulator.client_ssl_context(), setup)
    assert code == 1007 and "response_modalities" in reason


async def test_snake_and_camel_case_are_both_read() -> None:
    frames = (
        {"setup": {"model": f"models/{ANY_MODEL}", "generation_config": {"responseModalities": ["TEXT"]}}},
        {"realtime_input": {"text": "snake"}},
        {"clientContent": {"turns": [{"role": "user", "parts": [{"text": "camel"}]}], "turn_complete": True}},
    )
    async with emulating(connection_limit_s=1.0, **ANY) as emulator:
        code, _ = await raw_close(emulator.ws_url, emulator.client_ssl_context(), *frames)
    said = [
        p["text"]
        for e in emulator.sent
        for p in e["msg"].get("serverContent", {}).get("modelTurn", {}).get("parts", [])
    ]
    assert code == 1011
    assert "You said: camel" in said


def test_faults_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text(
        "- {at: 5, action: close, code: 1011, reason: boom}\n- {action: drop, at: 2, conn: 1}\n"
        "- {action: delay, seconds: 2}\n- {action: garbage}\n- {action: reject_setup}\n"
    )
    faults = load_faults(path)
    assert faults[0] == Fault(action="close", at=5.0, code=1011, reason="boom")
    assert faults[1].conn == 1 and faults[2].seconds == 2.0 and faults[4].code == 1008
    path.write_text("- {action: explode}\n")
    with pytest.raises(RuntimeConfigError):
        load_faults(path)


FOUR_BYTES = "AAAAAA=="
"""Two whole samples of silence, base64."""
SETUP_AUDIO = {"setup": {"model": f"models/{MODEL}", "generationConfig": {"responseModalities": ["AUDIO"]}}}


def audio_frame(data: str, mime_type: str | None) -> dict[str, object]:
    blob: dict[str, object] = {"data": data}
    if mime_type is not None:
        blob["mimeType"] = mime_type
    return {"realtimeInput": {"audio": blob}}


@pytest.mark.parametrize(
    ("data", "mime_type", "named"),
    [
        ("!!!!", "audio/pcm;rate=16000", "realtimeInput.audio.data"),  # not base64
        ("AA==", "audio/pcm;rate=16000", BAD_INPUT_AUDIO),  # one byte: half a sample
        ("AAAAAAA=", "audio/pcm", BAD_INPUT_AUDIO),  # five bytes
        (FOUR_BYTES, "audio/pcm;rate=abc", BAD_INPUT_AUDIO),
        (FOUR_BYTES, "audio/pcm;rate=0", BAD_INPUT_AUDIO),
        (FOUR_BYTES, "audio/wav", "mimeType 'audio/wav'"),
        (FOUR_BYTES, "text/plain", "mimeType 'text/plain'"),
        (FOUR_BYTES, None, "mimeType ''"),
    ],
)
async def test_malformed_client_audio_closes_1007(data: str, mime_type: str | None, named: str) -> None:
    async with emulating(check_client_messages=False) as emulator:
        trust = emulator.client_ssl_context()
        code, reason = await raw_close(emulator.ws_url, trust, SETUP_AUDIO, audio_frame(data, mime_type))
    assert code == 1007 and named in reason
    assert emulator.audio_bytes_received() == b""


@pytest.mark.parametrize("mime_type", ["audio/pcm", "audio/pcm;rate=16000", "audio/pcm; rate=48000", "AUDIO/PCM"])
async def test_raw_pcm_in_whole_samples_is_taken_with_or_without_a_rate(mime_type: str) -> None:
    async with emulating(connection_limit_s=0.5) as emulator:
        trust = emulator.client_ssl_context()
        code, _ = await raw_close(emulator.ws_url, trust, SETUP_AUDIO, audio_frame(FOUR_BYTES, mime_type))
    assert code == 1011  # the connection deadline, not a refusal
    assert emulator.audio_bytes_received() == bytes(4)


async def test_the_sdk_sees_half_a_sample_refused_with_the_services_reason() -> None:
    async with live(types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])) as (_emulator, session):
        await session.send_realtime_input(audio=types.Blob(data=b"\x00", mime_type="audio/pcm;rate=16000"))
        with pytest.raises(errors.APIError) as caught:
            await collect_until(session, turn_complete)
    assert (caught.value.code, caught.value.details) == (1007, BAD_INPUT_AUDIO)
