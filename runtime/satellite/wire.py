"""Reading a satellite's events with limits: the Wyoming framing (a JSON header line, then `data_length`
bytes of JSON and `payload_length` bytes of payload, wyoming `event.py` `async_read_event`) read the same
way, but a peer that announces a payload of gigabytes or sends a header that is not an event ends the
connection instead of the daemon's memory. The protocol is unauthenticated (docs/satellites.md): anything
on the network path can claim to be the satellite, so what it sends is bounded here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

from wyoming.event import Event, async_write_event

MAX_HEADER_BYTES = 64 * 1024
"""asyncio's own `readline` limit; a header line is a few hundred bytes."""
MAX_DATA_BYTES = 64 * 1024
MAX_PAYLOAD_BYTES = 1024 * 1024
"""An audio chunk is a few KiB (1024 frames of 16-bit stereo at 48 kHz: 4 KiB); 1 MiB is generous."""


class MalformedEvent(ConnectionError):
    """The peer sent something that is not a Wyoming event within the limits: the connection is dropped."""


async def read_event(reader: asyncio.StreamReader) -> Event | None:
    """The next event, or None when the peer closed the connection."""
    try:
        line = await reader.readline()
    except ValueError as exc:  # asyncio.LimitOverrunError is turned into ValueError by readline
        raise MalformedEvent(f"header longer than {MAX_HEADER_BYTES} bytes") from exc
    if not line:
        return None
    header = _json_object(line, "header")
    event_type = header.get("type")
    if not isinstance(event_type, str):
        raise MalformedEvent("header without a `type`")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise MalformedEvent("`data` is not an object")
    data_length = _length(header, "data_length", MAX_DATA_BYTES)
    if data_length:
        data.update(_json_object(await reader.readexactly(data_length), "data"))
    payload_length = _length(header, "payload_length", MAX_PAYLOAD_BYTES)
    payload = await reader.readexactly(payload_length) if payload_length else None
    return Event(type=event_type, data=data, payload=payload)


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"{what} is not JSON") from exc
    if not isinstance(value, dict):
        raise MalformedEvent(f"{what} is not a JSON object")
    return value


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key) or 0
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise MalformedEvent(f"`{key}` {value!r} is not a length up to {limit}")
    return value


KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_PROBES = 10, 5, 3
USER_TIMEOUT_MS = 20_000


def keep_alive(sock: socket.socket) -> None:
    """A satellite that leaves the Wi-Fi sends no FIN: TCP keep-alive finds it gone within ~25 s while we only
    listen, and TCP_USER_TIMEOUT within 20 s while a reply is being sent (Linux; elsewhere the defaults,
    minutes to hours). wyoming-satellite 1.0.0 answers no `ping`, so the protocol cannot do this for us."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", KEEPALIVE_IDLE_S), ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
                        ("TCP_KEEPCNT", KEEPALIVE_PROBES), ("TCP_USER_TIMEOUT", USER_TIMEOUT_MS)):
        option = getattr(socket, name, None)
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


class SatelliteConnection:
    """One TCP connection to a satellite: bounded reads (above), the library's writer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int, timeout_s: float) -> SatelliteConnection:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=MAX_HEADER_BYTES), timeout=timeout_s
        )
        sock = writer.get_extra_info("socket")
        if sock is not None:
            keep_alive(sock)
        return cls(reader, writer)

    async def read_event(self) -> Event | None:
        return await read_event(self._reader)

    async def write_event(self, event: Event) -> None:
        await async_write_event(event, self._writer)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):  # the peer is already gone: nothing left to close cleanly
            await self._writer.wait_closed()
