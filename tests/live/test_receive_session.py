"""What a real `AgentSession` does with what its connection reads: malformed audio stays on the connection,
a bug in its own handling or in a sink it feeds surfaces as that bug (never as a malformed message, never as a
reconnect), and the SDK's public paths give what the fast paths give."""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from websockets.asyncio.server import ServerConnection, serve

from runtime.audio.files import NullIn, NullOut, WavFileIn
from runtime.daemon.logs import AgentFilter
from runtime.emulator import EmulatorOptions, Fault, parse_scenario
from runtime.emulator import serve as serve_emulator
from runtime.emulator.tls import write_self_signed
from runtime.live.endpoint import Endpoint
from runtime.live.events import SessionState
from runtime.live.sdk import FastPaths
from tests.live.conftest import Recorder, agent, running, speech_wav

pytestmark = pytest.mark.anyio

GOOD_PCM_B64 = "AQACAAMABAA="  # 8 bytes of PCM16


def audio_frame(data: Any) -> bytes:
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}
    return json.dumps({"serverContent": {"modelTurn": {"role": "model", "parts": [part]}}}).encode()


class HostileServer:
    """A TLS WebSocket server speaking just enough Live: `setupComplete`, then `frames`, then a marker turn."""

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames
        self.connections = 0

    async def handle(self, websocket: ServerConnection) -> None:
        self.connections += 1
        await websocket.recv()  # setup
        await websocket.send(json.dumps({"setupComplete": {}}).encode())
        for frame in self.frames:
            await websocket.send(frame)
        marker = {"serverContent": {"outputTranscription": {"text": "alive"}, "turnComplete": True}}
        await websocket.send(json.dumps(marker).encode())
        async for _ in websocket:
            pass


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.WARNING, logger="runtime.live")
    yield caplog


async def test_malformed_audio_is_dropped_counted_and_logged_once_without_leaving_the_connection(
    certificate: tuple[Path, Path], tmp_path: Path, warnings: pytest.LogCaptureFixture
) -> None:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    frames = [audio_frame(GOOD_PCM_B64), audio_frame("!!!!"), audio_frame(7), audio_frame(GOOD_PCM_B64)]
    server = HostileServer(frames)
    events = Recorder()
    warnings.handler.addFilter(AgentFilter())  # as the daemon's handler: the agent comes from the session's context
    async with serve(server.handle, "127.0.0.1", 0, ssl=context) as listening:
        port = listening.sockets[0].getsockname()[1]
        endpoint = Endpoint(base_url=f"https://127.0.0.1:{port}", ca_file=cert, api_key="test-key")
        async with running(agent(), None, tmp_path, NullIn(), NullOut(), events=events, name="kitchen",
                           endpoint=endpoint) as session:
            await events.until(lambda: ("model", "alive") in events.of("transcript"))
            assert session.stats.malformed_audio_parts == 2
            assert session.downlink.stats.audio_bytes == 16
            assert server.connections == 1
    logged = [record for record in warnings.records if "malformed audio part" in record.getMessage()]
    assert [record.__dict__.get("agent") for record in logged] == ["kitchen"]


class BrokenSink(Recorder):
    """Event sinks with a bug of their own: text reaches them and they raise TypeError."""

    def text(self, agent: str, text: str) -> None:
        raise TypeError("a bug in an event sink")


async def test_a_bug_in_an_event_sink_surfaces_as_that_bug_not_as_a_malformed_message(
    tmp_path: Path, warnings: pytest.LogCaptureFixture
) -> None:
    events = BrokenSink()
    async with serve_emulator(EmulatorOptions(port=0)) as emulator:
        with pytest.RaisesGroup(pytest.RaisesExc(TypeError, match="a bug in an event sink"), flatten_subgroups=True):
            async with running(agent(response="text"), emulator, tmp_path, NullIn(), NullOut(), events=events) as s:
                await s.send_text("hello")
                with anyio.fail_after(20):  # the session's failure cancels this wait; a reconnect loop would not
                    await anyio.sleep_forever()
        assert emulator.connections == 1
    assert "malformed" not in warnings.text


REPLY = "The quick brown fox jumps over the lazy dog while the kettle sings."
SCENARIO = parse_scenario({"rules": [{"when": {"text": "story"}, "then": [{"say": REPLY}]}]})


class BrokenSpeaker(NullOut):
    """A speaker with a bug of its own: the model's voice reaches it (the downlink's sink) and it raises."""

    def write(self, pcm: bytes) -> None:
        raise TypeError("a bug in the speaker")


@pytest.mark.parametrize("fast_paths", [FastPaths(), FastPaths(receive=False, send=False)], ids=["fast", "public"])
async def test_a_bug_in_the_downlinks_sink_is_neither_a_malformed_message_nor_a_reconnect(
    tmp_path: Path, warnings: pytest.LogCaptureFixture, fast_paths: FastPaths
) -> None:
    """Audio reaches the speaker through the receive fast path (`on_audio`) or the SDK's parser (`on_message`):
    on both, the speaker's exception ends the session as itself, on its first connection."""
    events = Recorder()
    async with serve_emulator(EmulatorOptions(port=0, scenario_obj=SCENARIO, audio_chunk_ms=40)) as emulator:
        endpoint = Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="test-key",
                            fast_paths=fast_paths)
        with pytest.RaisesGroup(pytest.RaisesExc(TypeError, match="a bug in the speaker"), flatten_subgroups=True):
            async with running(agent(), emulator, tmp_path, NullIn(), BrokenSpeaker(), events=events,
                               endpoint=endpoint) as s:
                await s.send_text("tell me a story")
                with anyio.fail_after(20):  # the session's failure cancels this wait; a reconnect loop would not
                    await anyio.sleep_forever()
        assert emulator.connections == 1
    assert "malformed" not in warnings.text
    assert not events.states(SessionState.RECONNECTING)


class BrokenPipeSink(Recorder):
    """An event sink whose output is gone (a closed stdout): it raises `BrokenPipeError`, an `OSError` like
    the connection's own errors, when told the connection is ready."""

    def state(self, agent: str, state: SessionState, detail: str = "") -> None:
        super().state(agent, state, detail)
        if state is SessionState.READY:
            raise BrokenPipeError("stdout is gone")


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for member in error.exceptions for leaf in leaves(member)]
    return [error]


async def test_an_os_error_out_of_a_sink_at_setup_complete_is_not_taken_for_a_connection_error(
    tmp_path: Path,
) -> None:
    events = BrokenPipeSink()
    async with serve_emulator(EmulatorOptions(port=0)) as emulator:
        with pytest.raises(BaseException) as raised, anyio.fail_after(20):  # a reconnect loop would time out
            async with running(agent(response="text"), emulator, tmp_path, NullIn(), NullOut(), events=events):
                pass
        assert [type(leaf) for leaf in leaves(raised.value)] == [BrokenPipeError]
        assert emulator.connections == 1
    assert not events.states(SessionState.RECONNECTING)


@pytest.mark.parametrize("fast_paths", [FastPaths(), FastPaths(receive=False, send=False)], ids=["fast", "public"])
async def test_the_fast_paths_and_the_sdks_public_paths_carry_the_same_audio(
    tmp_path: Path, fast_paths: FastPaths
) -> None:
    """The same reply and the same microphone audio with or without the fast paths (as the bench runs them)."""
    speech_wav(tmp_path / "mic.wav", [("pause", 1.0)])
    mic = WavFileIn(tmp_path / "mic.wav")
    events = Recorder()
    async with serve_emulator(EmulatorOptions(port=0, scenario_obj=SCENARIO, audio_chunk_ms=40)) as emulator:
        endpoint = Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="test-key",
                            fast_paths=fast_paths)
        async with running(agent(), emulator, tmp_path, mic, NullOut(), events=events, endpoint=endpoint) as s:
            await s.send_text("tell me a story")
            await events.until(lambda: bool(events.states("turn_complete")), timeout_s=30)
            await events.until(lambda: mic.finished.is_set() and s.uplink.sent_bytes >= len(mic.file_pcm))
        assert s.downlink.stats.audio_bytes == 24000 * 2 * 60 * len(REPLY) // 1000
        assert emulator.audio_bytes_received()[: len(mic.file_pcm)] == mic.file_pcm
        assert s.stats.malformed_audio_parts == 0 and emulator.connections == 1


async def test_on_the_sdks_public_path_a_malformed_frame_also_starts_a_clean_connection(tmp_path: Path) -> None:
    events = Recorder()
    options = EmulatorOptions(port=0, faults=(Fault(action="garbage", at=0.2, conn=1),))
    async with serve_emulator(options) as emulator:
        endpoint = Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="test-key",
                            fast_paths=FastPaths(receive=False, send=False))
        async with running(agent(response="text"), emulator, tmp_path, NullIn(), NullOut(), events=events,
                           endpoint=endpoint):
            await events.until(lambda: len(events.states("ready")) == 2 or emulator.connections == 2)
        assert emulator.connections == 2
    assert any("malformed message" in detail for detail in events.states("reconnecting"))
