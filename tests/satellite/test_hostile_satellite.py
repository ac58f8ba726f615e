"""Whatever answers at a satellite's address is unauthenticated (docs/satellites.md#security): a peer that
announces a gigabyte payload, a chunk in a format no microphone has, or a line that is not an event loses
its connection; the link reconnects and serves the next, well-behaved one. Real sockets on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json

import anyio
import anyio.abc
import pytest

from runtime.satellite.link import SatelliteAddress, SatelliteLink
from runtime.satellite.states import CONNECTED

pytestmark = pytest.mark.anyio


def frame(event_type: str, data: dict[str, object], payload: bytes = b"", **header: object) -> bytes:
    body = json.dumps(data).encode()
    head = {"type": event_type, "data_length": len(body), "payload_length": len(payload), **header}
    return json.dumps(head).encode() + b"\n" + body + payload


CHUNK = {"rate": 16000, "width": 2, "channels": 1}
HOSTILE = [
    frame("audio-chunk", CHUNK, payload_length=10**9),
    frame("audio-chunk", {"rate": 0, "width": 2, "channels": 1}, bytes(640)),
    frame("audio-chunk", {"width": 2}, bytes(640)),
    b"this is not an event\n",
    b"[1, 2, 3]\n",
]


async def test_a_hostile_peer_is_dropped_and_a_good_satellite_after_it_is_served() -> None:
    connections: list[bytes] = []

    async def serve(client: anyio.abc.SocketStream) -> None:
        async with client:
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):  # the link hung up first
                await talk(client)

    async def talk(client: anyio.abc.SocketStream) -> None:
        connections.append(await client.receive())  # run-satellite
        number = len(connections) - 1
        if number < len(HOSTILE):
            await client.send(HOSTILE[number])
        else:
            await client.send(frame("audio-chunk", CHUNK, bytes(range(256)) * 5))
        with anyio.move_on_after(30):
            await client.receive()  # until the link closes its side

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    link = SatelliteLink(SatelliteAddress("127.0.0.1", port), backoff_s=(0.01, 0.05))
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, serve)
        group.start_soon(link.run)
        with anyio.fail_after(30):
            block = await link.mic_blocks.receive()
        assert link.status == CONNECTED
        group.cancel_scope.cancel()
    assert block == (bytes(range(256)) * 5)[:640]
    assert link.counts.connections == len(HOSTILE) + 1
    assert all(b'"run-satellite"' in first for first in connections)


async def test_a_continuously_streaming_satellite_that_goes_quiet_is_dropped_and_reconnected() -> None:
    """A half-open connection (the satellite left the Wi-Fi) or a dead microphone program: the stream stops
    but the socket stays open. A continuous stream (`run-pipeline` from `wake`) may not pause for long."""
    connections = 0

    async def serve(client: anyio.abc.SocketStream) -> None:
        nonlocal connections
        async with client:
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
                await client.receive()
                connections += 1
                await client.send(frame("run-pipeline", {"start_stage": "wake", "end_stage": "tts"}))
                await client.send(frame("audio-chunk", CHUNK, bytes(640)))
                with anyio.move_on_after(30):
                    await client.receive()  # silent from here on, until the link hangs up

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    link = SatelliteLink(SatelliteAddress("127.0.0.1", port), backoff_s=(0.01, 0.05))
    link.silence_drop_s = 0.3
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, serve)
        group.start_soon(link.run)
        with anyio.fail_after(30):
            for _ in range(3):
                await link.mic_blocks.receive()  # one block per connection
        group.cancel_scope.cancel()
    assert connections >= 3 and link.counts.connections >= 3
