"""Daemon logging: one line per event on stderr, the agent's name in every line, journald-friendly or JSON.

The agent's name travels in one context variable (`runtime.agentlog`), set by the session for its own tasks
and by the supervisor for its: anyio tasks and worker threads copy the context they were started from, so
every line a session (or its tools) logs is tagged without the session knowing who supervises it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Literal, NoReturn, TextIO

from runtime.agentlog import CURRENT_AGENT
from runtime.guards.redact import install_logging_filter

# syslog priorities, as sd-daemon(3) `<N>` prefixes that journald turns into the entry's PRIORITY
_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}

LogFormat = Literal["text", "json", "journal"]


def syslog_priority(levelno: int) -> int:
    for level in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO):
        if levelno >= level:
            return _PRIORITY[level]
    return _PRIORITY[logging.DEBUG]


class AgentFilter(logging.Filter):
    """Puts `record.agent` on every record: the agent the logging task works for (`runtime.agentlog`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.agent = CURRENT_AGENT.get()
        return True


def process_part(logger_name: str) -> str:
    """Who logged a line that belongs to no agent: the built-in emulator or the daemon itself."""
    return "emulator" if logger_name.startswith(("runtime.emulator", "websockets.server")) else "runtime"


def exception_text(record: logging.LogRecord) -> str:
    """The record's traceback: the redaction filter has already turned `exc_info` into redacted `exc_text`."""
    if record.exc_text:
        return record.exc_text
    if record.exc_info:
        return logging.Formatter().formatException(record.exc_info)
    return ""


class TextFormatter(logging.Formatter):
    """`<6>kitchen: session ready` under journald, `INFO  kitchen: session ready` in a terminal."""

    def __init__(self, *, journald: bool) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        agent = getattr(record, "agent", "") or process_part(record.name)
        message = record.getMessage()
        traceback_text = exception_text(record)
        if traceback_text and record.levelno <= logging.DEBUG:
            message += " | " + traceback_text.replace("\n", " | ")
        message = message.replace("\n", " | ")
        if self.journald:
            return f"<{syslog_priority(record.levelno)}>{agent}: {message}"
        return f"{record.levelname:<7} {agent}: {message}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "agent": getattr(record, "agent", "") or None,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        traceback_text = exception_text(record)
        if traceback_text and record.levelno <= logging.DEBUG:
            entry["exc"] = traceback_text
        return json.dumps(entry, ensure_ascii=False)


def under_journald(env: Mapping[str, str], stream: TextIO) -> bool:
    """systemd sets `JOURNAL_STREAM=dev:inode` of the stream it connected; it only counts if it is ours."""
    value = env.get("JOURNAL_STREAM", "")
    if ":" not in value:
        return False
    try:
        stat = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return value == f"{stat.st_dev}:{stat.st_ino}"


def own_stderr() -> None:
    """Give Python's `sys.stderr` a private duplicate of file descriptor 2 (a no-op when it has none).

    `sounddevice` points descriptor 2 at /dev/null, for the whole process, while PortAudio initialises (to
    hide ALSA's complaints) — at import and at every device re-scan, which the daemon runs from a worker
    thread while an agent waits for its microphone. Every line logged meanwhile by any agent was lost. A
    duplicate refers to the same pipe or journald stream but is not moved by `dup2(…, 2)`.
    """
    try:
        descriptor = os.dup(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # no real descriptor (embedded, captured by a test runner)
        return
    sys.stderr.flush()
    sys.stderr = os.fdopen(
        descriptor, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8", errors="backslashreplace"
    )


def end_process(code: int) -> NoReturn:
    """Flush the logs and standard streams, then exit without finalizing the interpreter.

    Once every agent has stopped there is nothing left to finalize, but native threads are: PortAudio's, and
    the tokio runtime of livekit's echo canceller, which calls back into Python to log. A thread that does so
    while the interpreter finalizes is ended by `pthread_exit`, which unwinds through Rust frames that cannot
    unwind: the process aborts (SIGABRT, a core dump, a failed `systemctl stop`) about once in 300 stops.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def setup_logging(
    log_format: LogFormat = "text", *, level: int = logging.INFO, stream: TextIO | None = None,
    handler: logging.Handler | None = None,
) -> None:
    """Route every `runtime` logger to stderr in the chosen format, or to `handler` (journald), secrets redacted."""
    if handler is None:
        handler = _stream_handler(log_format, stream or sys.stderr)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx2 logs every request at INFO: a remote MCP server's calls and pings would fill the journal
    logging.getLogger("httpx2").setLevel(max(level, logging.WARNING))
    # secrets resolved from agent files and API keys must never reach a log line, whoever logs them
    install_logging_filter()


def _stream_handler(log_format: LogFormat, stream: TextIO) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.addFilter(AgentFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(journald=under_journald(os.environ, stream)))
    return handler
