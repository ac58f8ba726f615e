"""`--log-format journal`: entries with fields over journald's native protocol, received on a real unix
datagram socket in a temporary directory (journald's side, as /run/systemd/journal/socket is)."""

from __future__ import annotations

import io
import logging
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.agentlog import working_for
from runtime.daemon import journal
from runtime.daemon.journal import EVENTS, JournalHandler, choose_log_format
from runtime.daemon.logs import CURRENT_AGENT
from runtime.guards.redact import SECRETS, install_logging_filter

RUNTIME = Path(journal.__file__).parents[1]


def parse(datagram: bytes) -> dict[str, str]:
    """journald's reading of the native protocol: `NAME=value\\n`, or `NAME\\n` + u64 length + bytes + `\\n`."""
    fields: dict[str, str] = {}
    rest = datagram
    while rest:
        line_end = rest.index(b"\n")
        head = rest[:line_end]
        if b"=" in head:
            name, value = head.split(b"=", 1)
            rest = rest[line_end + 1 :]
        else:
            (length,) = struct.unpack("<Q", rest[line_end + 1 : line_end + 9])
            name, value = head, rest[line_end + 9 : line_end + 9 + length]
            assert rest[line_end + 9 + length : line_end + 10 + length] == b"\n"
            rest = rest[line_end + 10 + length :]
        fields[name.decode()] = value.decode()
    return fields


@pytest.fixture
def journald(tmp_path: Path) -> Iterator[tuple[socket.socket, logging.Logger]]:
    path = tmp_path / "journal.socket"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(5)
    logger = logging.getLogger("runtime.live.session.journal-test")
    handler = JournalHandler(str(path))
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    install_logging_filter(logger)
    try:
        yield server, logger
    finally:
        logger.removeHandler(handler)
        handler.close()
        server.close()


def receive(server: socket.socket) -> dict[str, str]:
    return parse(server.recv(65536))


def test_a_reconnect_carries_agent_event_and_close_code(journald: tuple[socket.socket, logging.Logger]) -> None:
    server, logger = journald
    token = CURRENT_AGENT.set("kitchen")
    try:
        logger.warning("connection ended (%s); reconnecting in %.2f s", "close code 1011: overloaded", 0.25)
    finally:
        CURRENT_AGENT.reset(token)
    fields = receive(server)
    assert fields["AGENT"] == "kitchen" and fields["EVENT"] == "reconnecting" and fields["CLOSE_CODE"] == "1011"
    assert fields["PRIORITY"] == "4" and fields["SYSLOG_IDENTIFIER"] == "runtime"
    assert fields["MESSAGE"] == "kitchen: connection ended (close code 1011: overloaded); reconnecting in 0.25 s"


def test_a_tool_line_names_the_tool_and_a_multiline_message_survives(
    journald: tuple[socket.socket, logging.Logger],
) -> None:
    server, logger = journald
    with working_for("kitchen"):  # as a session's task: the agent comes from its context (runtime.agentlog)
        logger.info("tool %s (%s) ok in %.3f s", "set_timer", "c1", 0.01)
    fields = receive(server)
    assert (fields["TOOL"], fields["EVENT"], fields["AGENT"]) == ("set_timer", "tool_ok", "kitchen")
    logger.error("first line\nsecond line")
    fields = receive(server)
    assert fields["MESSAGE"] == "runtime: first line\nsecond line" and "AGENT" not in fields


def test_secrets_are_redacted_in_journal_entries(journald: tuple[socket.socket, logging.Logger]) -> None:
    server, logger = journald
    SECRETS.add("journal-canary-secret-1234")
    logger.warning("connection ended (%s); reconnecting in %.2f s", "key journal-canary-secret-1234", 1.0)
    assert "journal-canary-secret-1234" not in str(receive(server))


def test_without_journald_the_line_goes_to_stderr(tmp_path: Path) -> None:
    fallback = io.StringIO()
    handler = JournalHandler(str(tmp_path / "no-journal.socket"), fallback=fallback)
    record = logging.LogRecord("runtime.daemon", logging.ERROR, __file__, 1, "parked as failed: %s; last error: %s",
                               ("too many restarts", "boom"), None)
    handler.handle(record)
    handler.close()
    assert fallback.getvalue() == "<3>runtime: parked as failed: too many restarts; last error: boom\n"


def test_auto_is_journal_only_when_systemd_connected_stderr_to_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal.socket"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server, open(tmp_path / "stderr", "w") as stderr:
        server.bind(str(path))
        stat = Path(stderr.name).stat()
        ours = {"JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"}
        assert choose_log_format("auto", ours, stderr, str(path)) == "journal"
        assert choose_log_format("auto", {}, stderr, str(path)) == "text"
        assert choose_log_format("auto", ours, stderr, str(tmp_path / "none")) == "text"
        assert choose_log_format("json", ours, stderr, str(path)) == "json"


def test_every_event_template_is_still_logged_somewhere() -> None:
    sources = "\n".join(path.read_text() for path in RUNTIME.rglob("*.py") if path.name != "journal.py")
    missing = [template for template in EVENTS if f'"{template}"' not in sources]
    assert not missing, f"logged no more (update EVENTS in runtime/daemon/journal.py): {missing}"
