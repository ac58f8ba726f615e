"""A real `AgentSession` survives hostile server frames: it logs, recovers, and keeps serving.

A small hostile Live server (TLS WebSocket, like the service) answers `setup` with `setupComplete`, sends
the hostile frame on the first connection only, then a marker turn ("alive-N"). The session passes when it
delivers a marker and never raises: either it took the frame in its stride (one connection) or it dropped
that connection and resumed on a new one. The frames are the findings of `test_server_message_fuzz.py`
(docs/security.md) and a sample of its mutation strategy.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
import websockets.asyncio.server as websockets_server
from hypothesis import HealthCheck, given, settings

import runtime.live.session as session_module
from runtime.agentfile.spec import AgentSpec
from runtime.audio.files import NullIn, NullOut
from runtime.emulator.tls import write_self_signed
from runtime.live.endpoint import Endpoint
from runtime.live.events import ToolOutcome, Usage
from tests.security.server_messages import MAX_FRAME_BYTES, mutated_frames

pytestmark = pytest.mark.anyio

FAST = session_module.RetryPolicy(
    first_backoff_s=0.05, longest_backoff_s=0.2, healthy_after_s=0.5, fatal_retry_s=0.1, give_up_after=5
)


@dataclass
class Events:
    """SessionEvents that keep the model's transcripts and wake the test when one arrives."""

    transcripts: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    arrived: anyio.Event = field(default_factory=anyio.Event)

    def transcript(self, agent: str, role: Literal["user", "model"], text: str) -> None:
        self.transcripts.append(text)
        self.arrived.set()

    def text(self, agent: str, text: str) -> None:
        self.transcripts.append(text)
        self.arrived.set()

    def tool_call(self, agent: str, outcome: ToolOutcome) -> None:
        pass

    def usage(self, agent: str, usage: Usage) -> None:
        pass

    def state(self, agent: str, state: str, detail: str = "") -> None:
        self.states.append(state)


@dataclass
class HostileServer:
    """Serves `frames` on the first connection, then a marker turn on every connection."""

    frames: list[bytes | str]
    connections: int = 0

    async def handle(self, websocket: Any) -> None:
        self.connections += 1
        number = self.connections
        await websocket.recv()  # setup
        await websocket.send(json.dumps({"setupComplete": {}}).encode())
        if number == 1:
            for frame in self.frames:
                await websocket.send(frame)
        marker = {"serverContent": {"outputTranscription": {"text": f"alive-{number}"}, "turnComplete": True}}
        await websocket.send(json.dumps(marker).encode())
        async for _ in websocket:
            pass


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_self_signed(tmp_path_factory.mktemp("tls"))


async def survive(frames: list[bytes | str], certificate: tuple[Path, Path], state_dir: Path) -> tuple[int, Events]:
    """Run a session against a hostile server until a marker arrives; (connections used, events)."""
    import ssl

    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HostileServer(frames)
    events = Events()
    spec = AgentSpec.model_validate({"model": "gemini-3.8-live", "response": "text"})
    async with websockets_server.serve(server.handle, "127.0.0.1", 0, ssl=context, max_size=None) as listening:
        port = listening.sockets[0].getsockname()[1]
        session = session_module.AgentSession(
            spec,
            name="fuzz",
            base_dir=state_dir,
            endpoint=Endpoint(base_url=f"https://127.0.0.1:{port}", ca_file=cert, api_key="fuzz-key"),
            audio_in=NullIn(),
            audio_out=NullOut(),
            state_dir=state_dir,
            events=events,
            policy=FAST,
        )
        async with anyio.create_task_group() as group:
            group.start_soon(session.run)
            with anyio.fail_after(20):
                while not any(text.startswith("alive-") for text in events.transcripts):
                    await events.arrived.wait()
                    events.arrived = anyio.Event()
            group.cancel_scope.cancel()
    return server.connections, events


def frame_of(message: Any) -> bytes:
    return json.dumps(message).encode()


def audio(mime_type: str, data: str | None) -> bytes:
    blob: dict[str, Any] = {"mimeType": mime_type}
    if data is not None:
        blob["data"] = data
    return frame_of({"serverContent": {"modelTurn": {"parts": [{"inlineData": blob}]}}})


ENDS = 2
"""The frame ends the connection; the session resumes on a second one."""
ABSORBED = 1
"""The frame is taken in stride on the same connection."""

HOSTILE: dict[str, tuple[list[bytes | str], int]] = {
    "truncated_json": ([b'{"serverContent": {"turnComplete": true}'], ENDS),
    "invalid_utf8": ([b'{"serverContent": {"outputTranscription": {"text": "\xff\xfe"}}}'], ENDS),
    "error_object": ([b'{"error": {"code": 400, "message": "bad"}}'], ENDS),
    "null_content": ([b'{"serverContent": null}'], ENDS),
    "error_code_503": ([b'{"code": 503, "message": "unavailable"}'], ENDS),
    "json_number": ([b"5"], ENDS),
    "json_string": ([b'"hello"'], ENDS),
    "json_key_string": ([b'"setupComplete"'], ENDS),
    "deep_nesting": ([b"[" * 100_000], ENDS),
    "wrong_type": ([b'{"serverContent": {"modelTurn": {"parts": "x"}}}'], ENDS),
    # The receive parser (runtime/live/receive.py) reads audio base64 as the SDK does (padding optional): a part
    # it cannot read ("!!!!") is dropped and counted on the same connection; one byte of PCM, padded or not,
    # reaches the speaker.
    "wrong_base64": ([audio("audio/pcm;rate=24000", "!!!!")], ABSORBED),
    "odd_length_pcm": ([audio("audio/pcm;rate=24000", "AA")], ABSORBED),
    "odd_length_pcm_padded": ([audio("audio/pcm;rate=24000", "AA==")], ABSORBED),
    "empty_frame": ([b""], ABSORBED),
    "lone_surrogate": ([b'{"serverContent": {"outputTranscription": {"text": "\\ud800"}}}'], ABSORBED),
    "rate_abc": ([audio("audio/pcm;rate=abc", "AAAA")], ABSORBED),
    "rate_zero": ([audio("audio/pcm;rate=0", "AAAA")], ABSORBED),
    "rate_huge": ([audio("audio/pcm;rate=99999999999999999999", "AAAA")], ABSORBED),
    "no_data": ([audio("audio/pcm;rate=24000", None)], ABSORBED),
    "go_away_soon": ([frame_of({"goAway": {"timeLeft": "soon"}})], ABSORBED),
    "empty_handle": ([frame_of({"sessionResumptionUpdate": {"newHandle": "", "resumable": True}})], ABSORBED),
    "tool_call_without_id": ([frame_of({"toolCall": {"functionCalls": [{"name": "nope", "args": {}}]}})], ABSORBED),
    "unknown_tool": (
        [frame_of({"toolCall": {"functionCalls": [{"id": "1", "name": "rm_rf", "args": {"x": 1}}]}})], ABSORBED
    ),
    "cancel_unknown_ids": ([frame_of({"toolCallCancellation": {"ids": ["nope", ""]}})], ABSORBED),
    "usage_negative": ([frame_of({"usageMetadata": {"totalTokenCount": -5, "promptTokenCount": "12"}})], ABSORBED),
    "over_frame_limit": (
        [frame_of({"serverContent": {"outputTranscription": {"text": "a" * MAX_FRAME_BYTES}}})], ENDS
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_the_session_survives_a_hostile_frame(
    case: str, certificate: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Exactly the connections docs/security.md states for each frame: a change of behaviour shows here."""
    caplog.set_level(logging.INFO)
    frames, expected = HOSTILE[case]
    connections, _ = await survive(frames, certificate, tmp_path)
    print(f"\n{case}: recovered after {connections} connection(s)")
    assert connections == expected, f"{case}: {connections} connections, docs/security.md says {expected}"


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(mutation=mutated_frames())
async def test_the_session_survives_mutated_frames(mutation: tuple[str, bytes], tmp_path_factory: Any) -> None:
    """A sample of the SDK-level mutation strategy, through a real session."""
    certificate = write_self_signed(tmp_path_factory.mktemp("tls-h"))
    kind, frame = mutation
    connections, _ = await survive([frame], certificate, tmp_path_factory.mktemp("state"))
    print(f"{kind}: {connections} connection(s)")
    assert connections <= 2, f"{kind}: a crash loop"
