"""`--log-format journal`: each log line as a journald entry with fields, over journald's native protocol.

`journalctl -u runtime AGENT=kitchen`, `EVENT=reconnecting`, `CLOSE_CODE=1011` or `TOOL=set_timer` then find
the lines without a grep. The protocol (systemd's "Native Journal Protocol" page): one datagram per entry on
/run/systemd/journal/socket, `FIELD=value` lines, and a value holding a newline sent as the field name, a
newline, its length as 64-bit little endian, the bytes and a newline. No libsystemd is needed.

The fields are read off the records as logged, so no module logs differently for journald: the agent from
the record (`AgentFilter`), the event from the message's shape (`EVENTS`), a close code from the text.
A line journald refuses (socket gone, too large) is written to stderr instead, never lost.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import struct
import sys
from collections.abc import Mapping
from typing import TextIO

from runtime.daemon.logs import AgentFilter, LogFormat, exception_text, process_part, syslog_priority, under_journald

JOURNAL_SOCKET = "/run/systemd/journal/socket"
SOCKET_ENV = "RUNTIME_JOURNAL_SOCKET"
"""Another journald socket than JOURNAL_SOCKET (a container with the host's socket mounted elsewhere; tests)."""
IDENTIFIER = "runtime"

EVENTS: Mapping[str, str] = {
    "connected (%s)": "connected",
    "connection ended (%s); reconnecting in %.2f s": "reconnecting",
    "handing over to a new connection (%s)": "handover",
    "tool %s (%s) ok in %.3f s": "tool_ok",
    "tool %s (%s) failed in %.3f s: %s": "tool_failed",
    "tool %s (%s) cancelled by the model": "tool_cancelled",
    "parked as failed: %s; last error: %s": "parked",
    "interrupted by the user": "interrupted",
    "microphone buffer full: %d blocks dropped so far": "mic_dropped",
    "%s; retrying in %.1f s": "auth_failed",
}
"""What a line's message template (`record.msg`) says happened, as `EVENT=`; a test checks every template is
still logged somewhere in runtime/."""



def template_pattern(template: str) -> re.Pattern[str]:
    """A regex matching what `template % args` printed: the record factory formats (and redacts) every message
    as it is made (`runtime.guards.redact`), so a handler sees the text, never the template."""
    placeholders = {"%s": "(.+?)", "%d": r"(-?\d+)", "%.1f": r"(-?[\d.]+)", "%.2f": r"(-?[\d.]+)",
                    "%.3f": r"(-?[\d.]+)"}
    parts = re.split(r"(%s|%d|%\.\df)", template)
    return re.compile("".join(placeholders.get(part, re.escape(part)) for part in parts) + r"\Z", re.DOTALL)


PATTERNS = tuple((template_pattern(template), event) for template, event in EVENTS.items())
"""In `EVENTS`' order: the first match wins (the broad `%s; retrying…` comes after the specific ones)."""

CLOSE_CODE = re.compile(r"close code (\d{3,4})\b")


def journal_fields(record: logging.LogRecord) -> dict[str, str]:
    """The entry for one record: MESSAGE, PRIORITY, and what can be told of it (AGENT, EVENT, CLOSE_CODE, TOOL)."""
    message = record.getMessage()
    traceback_text = exception_text(record)
    if traceback_text and record.levelno <= logging.DEBUG:
        message += "\n" + traceback_text
    agent = getattr(record, "agent", "")
    fields = {
        "MESSAGE": f"{agent or process_part(record.name)}: {message}",
        "PRIORITY": str(syslog_priority(record.levelno)),
        "SYSLOG_IDENTIFIER": IDENTIFIER,
        "LOGGER": record.name,
    }
    if agent:
        fields["AGENT"] = agent
    for pattern, event in PATTERNS:
        found = pattern.match(message)
        if found:
            fields["EVENT"] = event
            if event.startswith("tool_"):
                fields["TOOL"] = found.group(1)
            break
    code = CLOSE_CODE.search(message)
    if code:
        fields["CLOSE_CODE"] = code.group(1)
    return fields


def encode(fields: Mapping[str, str]) -> bytes:
    """The native protocol's datagram for `fields` (field names: upper case, digits, underscores)."""
    parts = []
    for name, value in fields.items():
        data = value.encode("utf-8", "backslashreplace")
        if b"\n" in data:
            parts.append(name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n")
        else:
            parts.append(name.encode() + b"=" + data + b"\n")
    return b"".join(parts)


class JournalHandler(logging.Handler):
    """Sends each record to journald as an entry with fields; stderr when journald cannot take it."""

    def __init__(self, path: str = JOURNAL_SOCKET, fallback: TextIO | None = None) -> None:
        super().__init__()
        self.path = path
        self._fallback = fallback or sys.stderr
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(True)
        self.addFilter(AgentFilter())

    def emit(self, record: logging.LogRecord) -> None:
        try:  # a message whose arguments do not fit its template: logging's own report, like StreamHandler's
            fields = journal_fields(record)
            datagram = encode(fields)
        except (TypeError, ValueError):
            self.handleError(record)
            return
        try:
            self._socket.sendto(datagram, self.path)
        except OSError:
            self._fallback.write(f"<{fields['PRIORITY']}>{fields['MESSAGE'].replace(chr(10), ' | ')}\n")
            self._fallback.flush()

    def close(self) -> None:
        self._socket.close()
        super().close()


def journal_socket(env: Mapping[str, str]) -> str:
    """Where journald listens: `$RUNTIME_JOURNAL_SOCKET`, else systemd's own path."""
    return env.get(SOCKET_ENV) or JOURNAL_SOCKET


def journal_available(path: str = JOURNAL_SOCKET) -> bool:
    """Is there a journald to send to (and may we)?"""
    return os.access(path, os.W_OK)


def choose_log_format(asked: str, env: Mapping[str, str], stderr: TextIO, path: str = JOURNAL_SOCKET) -> LogFormat:
    """`auto`: journal when systemd connected stderr to the journal and its socket can be written to (a
    service), else text; anything else as asked."""
    if asked == "auto":
        return "journal" if under_journald(env, stderr) and journal_available(path) else "text"
    assert asked in ("text", "json", "journal"), asked
    return "journal" if asked == "journal" else "json" if asked == "json" else "text"
