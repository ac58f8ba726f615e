"""Cancelling a session closes its socket cleanly (1000) and releases its ports; it never lingers."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import anyio
import pytest
from websockets.asyncio.server import serve as websockets_serve

from runtime.audio.files import NullIn, WavFileOut
from runtime.emulator.tls import write_self_signed
from runtime.live.endpoint import Endpoint
from runtime.live.session import AgentSession
from tests.live.conftest import FAST, FAST_TIMEOUTS, Recorder, agent


@pytest.mark.anyio
async def test_cancellation_closes_the_socket_with_1000_and_the_ports(tmp_path: Path) -> None:
    cert, key = write_self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    close_codes: list[int | None] = []
    closed = anyio.Event()

    async def handler(websocket: Any) -> None:
        await websocket.recv()
        await websocket.send(json.dumps({"setupComplete": {}}).encode())
        try:
            async for _ in websocket:
                pass
        finally:
            close_codes.append(websocket.close_code)
            closed.set()

    speaker = WavFileOut(tmp_path / "out.wav")
    async with websockets_serve(handler, "127.0.0.1", 0, ssl=tls) as server:
        port = server.sockets[0].getsockname()[1]
        session = AgentSession(
            agent(response="text"), name="bye", base_dir=tmp_path,
            endpoint=Endpoint(base_url=f"https://127.0.0.1:{port}", ca_file=cert, api_key="k"),
            audio_in=NullIn(), audio_out=speaker, state_dir=tmp_path, policy=FAST, timeouts=FAST_TIMEOUTS,
        )
        async with anyio.create_task_group() as group:
            await group.start(session.run)
            group.cancel_scope.cancel()
        with anyio.fail_after(5):
            await closed.wait()
    assert close_codes == [1000]
    assert (tmp_path / "out.wav").stat().st_size > 0  # the WAV header was finalised by close()


@pytest.mark.anyio
async def test_a_server_that_never_answers_the_close_does_not_hold_up_the_handover(tmp_path: Path) -> None:
    cert, key = write_self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    connections: list[int] = []
    release = anyio.Event()
    events = Recorder()

    async def handler(websocket: Any) -> None:
        connections.append(len(connections) + 1)
        await websocket.recv()
        await websocket.send(json.dumps({"setupComplete": {}}).encode())
        if len(connections) == 1:
            await websocket.send(json.dumps({"sessionResumptionUpdate": {"newHandle": "h1", "resumable": True}}))
            await websocket.send(json.dumps({"goAway": {"timeLeft": "1s"}}))
            websocket.transport.pause_reading()  # a black hole: our close frame is never read nor answered
            await release.wait()
        else:
            async for _ in websocket:
                pass

    async with websockets_serve(handler, "127.0.0.1", 0, ssl=tls, close_timeout=0.2) as server:
        port = server.sockets[0].getsockname()[1]
        session = AgentSession(
            agent(response="text"), name="stuck", base_dir=tmp_path,
            endpoint=Endpoint(base_url=f"https://127.0.0.1:{port}", ca_file=cert, api_key="k"),
            audio_in=NullIn(), audio_out=WavFileOut(tmp_path / "out.wav"), state_dir=tmp_path, policy=FAST,
            timeouts=FAST_TIMEOUTS,
            events=events,
        )
        async with anyio.create_task_group() as group:
            await group.start(session.run)
            await events.until(lambda: session.stats.connections >= 2, timeout_s=8)
            group.cancel_scope.cancel()
        release.set()
    assert connections == [1, 2]
    assert session.stats.handovers and session.stats.handovers[0] < 6
