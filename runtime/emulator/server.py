"""Start and stop an emulator: TLS, the websockets server, and the handle tests and benchmarks hold."""

from __future__ import annotations

import contextlib
import logging
import ssl
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as websockets_serve
from websockets.http11 import Request, Response

from runtime.agentfile import catalogue
from runtime.emulator.front import admit, connection_class
from runtime.emulator.hub import Hub, Traffic
from runtime.emulator.options import EmulatorOptions
from runtime.emulator.scenario import Scenario, load_scenario
from runtime.emulator.session import LiveSession
from runtime.emulator.tls import write_self_signed
from runtime.emulator.video import FrameSeen

logger = logging.getLogger(__name__)

#: The service's frame limit is what the SDK's client uses (websockets' default, 1 MiB); keep ours larger.
MAX_FRAME_BYTES = 16 << 20


@dataclass
class Emulator:
    """A running emulator: where to connect, what to trust, and everything that crossed the wire."""

    base_url: str
    """`https://HOST:PORT`, for `types.HttpOptions(base_url=...)`."""
    ws_url: str
    ca_file: Path
    """PEM certificate a client must trust."""
    port: int
    _hub: Hub

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every client message: {"conn", "t", "mono", "msg"}."""
        return self._hub.traffic.records

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Every server message sent: {"conn", "t", "mono", "msg"}, stamped right after the send."""
        return self._hub.traffic.sent

    @property
    def connections(self) -> int:
        return self._hub.connections

    @property
    def frames(self) -> list[FrameSeen]:
        """Every camera frame received (size, time), in arrival order."""
        return self._hub.traffic.frames

    def audio_bytes_received(self) -> bytes:
        """All realtimeInput audio, in arrival order."""
        return b"".join(self._hub.traffic.audio_chunks)

    def client_ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


@contextlib.asynccontextmanager
async def serve(options: EmulatorOptions) -> AsyncIterator[Emulator]:
    """`async with serve(options) as emulator:` serves until the block ends, then closes with 1001."""
    scenario = options.scenario_obj or (load_scenario(options.scenario) if options.scenario else Scenario())
    catalogue.current()  # a broken models file ($RUNTIME_MODELS) fails here, located, not in every setup
    with contextlib.ExitStack() as stack:
        if options.tls_cert is not None and options.tls_key is not None:
            cert, key = options.tls_cert, options.tls_key
        else:
            cert, key = write_self_signed(Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="emulator-"))))
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert, key)
        record_file = stack.enter_context(options.record_path.open("a")) if options.record_path else None
        hub = Hub(options, scenario, Traffic(keep=options.keep_history, record_file=record_file))
        server = await websockets_serve(
            partial_handler(hub),
            options.host,
            options.port,
            ssl=server_tls,
            process_request=partial_admission(hub),
            create_connection=connection_class(hub),
            max_size=MAX_FRAME_BYTES,
            close_timeout=2,
            compression=None,
        )
        try:
            port = int(server.sockets[0].getsockname()[1])
            host = f"[{options.host}]" if ":" in options.host else options.host
            emulator = Emulator(f"https://{host}:{port}", f"wss://{host}:{port}", cert, port, hub)
            logger.info("emulator listening on wss://%s:%d", host, port)
            yield emulator
        finally:
            server.close()
            await server.wait_closed()


def partial_admission(hub: Hub) -> Any:
    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        decision = admit(hub, request)
        if isinstance(decision, Response):
            return decision
        connection.handler_kwargs = {"admission": decision}
        return None

    return process_request


def partial_handler(hub: Hub) -> Any:
    async def handler(connection: ServerConnection) -> None:
        number = hub.next_connection_number()
        admission = connection.handler_kwargs["admission"]
        await LiveSession(connection, hub, number, admission).run()

    return handler
