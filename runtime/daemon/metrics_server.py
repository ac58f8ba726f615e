"""`--metrics ADDRESS`: `/metrics` (Prometheus text format), `/healthz` and `/status`, served on the event loop.

A small HTTP/1.1 server on anyio rather than `prometheus_client.start_http_server`'s thread: the records it
reads are only ever touched by the event loop, and its task dies with the daemon's task group. Each request
is one GET and one answer, then the connection closes (what Prometheus, curl and `runtime status` need).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import anyio
import anyio.abc
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from runtime.daemon.audio_counters import LiveCounters
from runtime.daemon.metrics import MetricsRecorder, build_registry
from runtime.daemon.records import unhealthy
from runtime.errors import AgentRuntimeError

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_PORT = 8653
"""No exporter in Prometheus' default port allocations uses it (docs/metrics.md)."""
REQUEST_LIMIT = 8192
"""Bytes of request head read at most; a longer head is refused."""
REQUEST_TIMEOUT_S = 5.0


class MetricsAddressError(AgentRuntimeError):
    """`--metrics` was not `HOST:PORT`."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self}{path}"


def parse_address(text: str) -> Address:
    """`127.0.0.1:9853`, `[::1]:9853`, or just a port (on 127.0.0.1)."""
    text = text.strip()
    if text.isdigit():
        host, port_text = "127.0.0.1", text
    elif text.startswith("["):
        host, _, port_text = text[1:].partition("]:")
    else:
        host, _, port_text = text.rpartition(":")
    try:
        ipaddress.ip_address(host)
        port = int(port_text)
    except ValueError:
        raise MetricsAddressError(
            f"--metrics {text!r}: give HOST:PORT with an IP address, e.g. 127.0.0.1:{DEFAULT_PORT} or "
            f"[::1]:{DEFAULT_PORT}"
        ) from None
    if not 0 <= port <= 65535:
        raise MetricsAddressError(f"--metrics {text!r}: port {port} is out of range")
    return Address(host, port)


Listener = anyio.abc.Listener[anyio.abc.SocketStream]


async def listen(address: Address) -> Listener:
    """The socket `MetricsServer.serve` answers on (a port taken is the user's error, said before anything runs)."""
    try:
        return await anyio.create_tcp_listener(local_host=address.host, local_port=address.port)
    except OSError as exc:
        raise MetricsAddressError(f"cannot serve metrics on {address}: {exc.strerror}; choose another "
                                  "--metrics address") from exc


def bound_address(listener: Listener) -> Address:
    """Where `listener` listens (its real port when 0 was asked for)."""
    sockname = listener.extra(anyio.abc.SocketAttribute.local_address)
    assert isinstance(sockname, tuple), "a TCP listener"
    return Address(str(sockname[0]), int(sockname[1]))


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class MetricsServer:
    """Answers `/metrics`, `/healthz` and `/status` from the recorder and the registry."""

    def __init__(self, registry: CollectorRegistry, recorder: MetricsRecorder,
                 wall: Callable[[], float] = time.time) -> None:
        self.registry = registry
        self.recorder = recorder
        self._wall = wall

    def answer(self, path: str) -> Answer:
        path = path.split("?", 1)[0]
        if path == "/metrics":
            self.recorder.settle()
            return Answer(200, CONTENT_TYPE_LATEST, generate_latest(self.registry))
        if path == "/healthz":
            return self._health()
        if path == "/status":
            return _json(200, self.status())
        return _json(404, {"error": f"no such page {path[:64]!r}: /metrics, /healthz or /status"})

    def status(self) -> dict[str, object]:
        now = self._wall()
        records = self.recorder.records
        return {"now": now, "muted": self.recorder.muted,
                "agents": [records[name].view(now) for name in sorted(records)]}

    def _health(self) -> Answer:
        failing = unhealthy(self.recorder.records)
        if failing:
            return _json(503, {"status": "unhealthy", "agents": failing})
        return _json(200, {"status": "ok", "agents": len(self.recorder.records)})

    async def serve(self, listener: Listener) -> None:
        """Answer requests until cancelled."""
        async with listener:
            log.info("metrics on %s (/metrics, /healthz, /status)", bound_address(listener).url(""))
            await listener.serve(self._handle)

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            answer = Answer(400, "text/plain", b"bad request\n")
            with anyio.move_on_after(REQUEST_TIMEOUT_S):
                head = await _read_head(stream)
                answer = self._route(head)
            try:
                await stream.send(_encode(answer))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                log.debug("a metrics client left before its answer")

    def _route(self, head: bytes | None) -> Answer:
        if head is None:
            return Answer(400, "text/plain", b"bad request\n")
        method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
        if method != "GET":
            return Answer(405, "text/plain", b"GET only\n")
        return self.answer(rest.split(" ", 1)[0])


async def _read_head(stream: anyio.abc.SocketStream) -> bytes | None:
    head = b""
    while b"\r\n\r\n" not in head:
        try:
            head += await stream.receive(REQUEST_LIMIT)
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            return None
        if len(head) > REQUEST_LIMIT:
            return None
    return head


def _json(status: int, body: object) -> Answer:
    return Answer(status, "application/json", json.dumps(body, sort_keys=True).encode() + b"\n")


def _encode(answer: Answer) -> bytes:
    head = (f"HTTP/1.1 {answer.status} {REASONS.get(answer.status, 'Error')}\r\n"
            f"Content-Type: {answer.content_type}\r\nContent-Length: {len(answer.body)}\r\n"
            "Connection: close\r\n\r\n")
    return head.encode("latin-1") + answer.body


class Metering:
    """`--metrics` put together: the registry, the recorder that keeps it, and the server that shows it."""

    def __init__(
        self,
        address: Address,
        sessions: Callable[[], Mapping[str, LiveCounters]],
        microphones: Callable[[], Mapping[str, object]] = dict,
    ) -> None:
        self.address = address
        self._sessions = sessions
        self._microphones = microphones
        self.recorder = MetricsRecorder()
        self.recorder.speaker_of = lambda agent: getattr(self._sessions().get(agent), "audio_out", None)
        registry = build_registry(self.recorder, self._hosted_sessions, self._hosted_microphones)
        self.server = MetricsServer(registry, self.recorder)

    def _hosted_sessions(self) -> dict[str, LiveCounters]:
        """The latest session of every agent still hosted (a stopped agent's last session is not counted)."""
        return {name: session for name, session in self._sessions().items() if name in self.recorder.records}

    def _hosted_microphones(self) -> dict[str, object]:
        return {name: mic for name, mic in self._microphones().items() if name in self.recorder.records}

    async def run_beside(self, run: Callable[[], Awaitable[T]]) -> T:
        """Serve while `run` runs (the daemon); a port that cannot be had fails before it starts."""
        listener = await listen(self.address)
        self.address = bound_address(listener)
        async with anyio.create_task_group() as group:
            group.start_soon(self.server.serve, listener)
            result = await run()
            group.cancel_scope.cancel()
        return result
