"""Conformance traces: every client and server message of the doctor's sessions, as JSON lines.

Each line has the shape of `runtime emulate --record` (`{"conn", "t", "mono", "msg"}`) plus `"from"`
(`client` or `server`); a connection's end is a line with `"close": {"code", "reason"}` instead of `msg`,
`from` naming who closed. The first line is a header: `{"trace": {...}}` (format, kind, source, versions).
Messages are sanitized first (`sanitize.py`) and every line then goes through the redactor, so a trace can be
attached to a public bug report.

The messages are caught on the SDK's own WebSocket: google-genai passes the `async_client_args` that
`websockets.connect` accepts on to it, `create_connection` among them, so the session is the SDK's, unchanged.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
from pathlib import Path
from typing import IO, Any

from websockets.asyncio.client import ClientConnection

from runtime.doctor.sanitize import Sanitizer, close_reason

FORMAT = 1
ABNORMAL_CLOSE = 1006


class TraceWriter:
    """Appends sanitized lines to one file; `connection()` numbers the sessions."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        from runtime.guards.redact import SECRETS

        self._redact = SECRETS.redact
        self._file: IO[str] = path.open("w", encoding="utf-8")
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._connections = 0
        self._sanitizer = Sanitizer()
        created = datetime.datetime.now(tz=datetime.UTC).isoformat(timespec="seconds")
        self._write({"trace": {"format": FORMAT, "kind": "captured", "created": created, **header}})

    def connection(self) -> int:
        self._connections += 1
        return self._connections

    def message(self, conn: int, sender: str, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            message = {"unparsed": f"<bytes:{len(raw)}>"}
        self._write(self._stamp(conn, sender) | {"msg": self._sanitizer.message(message)})

    def close(self, conn: int, sender: str, code: int, reason: str) -> None:
        self._write(self._stamp(conn, sender) | {"close": {"code": code, "reason": close_reason(reason, self._redact)}})

    def finish(self) -> None:
        with self._lock:
            self._file.close()

    def _stamp(self, conn: int, sender: str) -> dict[str, Any]:
        now = time.monotonic()
        return {"conn": conn, "t": round(now - self._started, 6), "mono": now, "from": sender}

    def _write(self, line: dict[str, Any]) -> None:
        text = self._redact(json.dumps(line, separators=(",", ":"), ensure_ascii=False))
        with self._lock:
            if not self._file.closed:
                self._file.write(text + "\n")
                self._file.flush()


def recording_connection(writer: TraceWriter, conn: int) -> type[ClientConnection]:
    """A websockets client connection class that reports every frame and the close to `writer`."""

    class RecordingConnection(ClientConnection):
        async def send(self, message: Any, text: bool | None = None) -> None:
            if isinstance(message, str | bytes):
                writer.message(conn, "client", message)
            await super().send(message, text=text)

        async def recv(self, decode: bool | None = None) -> Any:
            frame = await super().recv(decode=decode)
            writer.message(conn, "server", frame)
            return frame

        def connection_lost(self, exc: Exception | None) -> None:
            super().connection_lost(exc)
            protocol = self.protocol
            received, sent = protocol.close_rcvd, protocol.close_sent
            if received is None and sent is None:
                writer.close(conn, "server", ABNORMAL_CLOSE, "")
            elif received is not None and (sent is None or protocol.close_rcvd_then_sent):
                writer.close(conn, "server", received.code, received.reason)
            elif sent is not None:
                writer.close(conn, "client", sent.code, sent.reason)

    return RecordingConnection
