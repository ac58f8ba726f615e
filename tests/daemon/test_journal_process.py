"""`runtime run --log-format journal` as a whole daemon: its entries reach a real datagram socket the test binds
(journald's side; `RUNTIME_JOURNAL_SOCKET` points the daemon at it) and carry AGENT=, EVENT=, CLOSE_CODE= for a
close and a goAway handover, and TOOL= for a tool call, against `runtime emulate` with the real SDK."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.daemon.harness import make_agents, start_daemon
from tests.daemon.test_journal import parse
from tests.daemon.test_metrics_process import FAULTS, REQUEST_WAV, SCENARIO, TOOLS, emulate, kitchen_yaml, write

pytestmark = pytest.mark.timeout(120)

Entry = dict[str, str]


@pytest.fixture
def journald() -> Iterator[tuple[str, socket.socket]]:
    """A bound unix datagram socket in a short directory (a socket path has at most 107 bytes)."""
    with tempfile.TemporaryDirectory(prefix="runtime-journal-") as directory, socket.socket(
        socket.AF_UNIX, socket.SOCK_DGRAM
    ) as server:
        path = str(Path(directory) / "socket")
        server.bind(path)
        server.settimeout(0.5)
        yield path, server


def collect_until(server: socket.socket, entries: list[Entry], done: Callable[[list[Entry]], bool],
                  timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done(entries):
        assert time.monotonic() < deadline, "never seen; entries:\n" + "\n".join(e["MESSAGE"] for e in entries)
        try:
            entries.append(parse(server.recv(65536)))
        except TimeoutError:
            continue


def events(entries: list[Entry], event: str) -> list[Entry]:
    return [entry for entry in entries if entry.get("EVENT") == event]


def test_a_whole_daemon_logs_reconnects_handovers_and_tools_with_their_fields(
    tmp_path: Path, journald: tuple[str, socket.socket]
) -> None:
    path, server = journald
    emulated = emulate(tmp_path, SCENARIO, "--faults", write(tmp_path / "faults.yaml", FAULTS), "--go-away-after", "3")
    base_url, ca = next(emulated)
    agents = make_agents(tmp_path / "agents", [])
    shutil.copy(REQUEST_WAV, agents / "request.wav")
    (agents / "kitchen_tools.py").write_text(TOOLS)
    (agents / "kitchen.yaml").write_text(kitchen_yaml())
    daemon = start_daemon(agents, tmp_path, "--backend", "gemini", "--base-url", base_url, "--ca-file", str(ca),
                          "--log-format", "journal", env={"GEMINI_API_KEY": "test-key", "RUNTIME_JOURNAL_SOCKET": path})
    entries: list[Entry] = []
    try:
        daemon.notify.expect("READY")
        collect_until(server, entries, lambda found: bool(
            events(found, "reconnecting") and events(found, "handover") and events(found, "tool_ok")))
    finally:
        assert daemon.stop() == 0
        emulated.close()

    [reconnect] = events(entries, "reconnecting")
    assert reconnect["AGENT"] == "kitchen" and reconnect["CLOSE_CODE"] == "1011"
    assert reconnect["MESSAGE"].startswith("kitchen: connection ended (close code 1011")
    assert reconnect["PRIORITY"] == "4" and reconnect["SYSLOG_IDENTIFIER"] == "runtime"
    handover = events(entries, "handover")[0]
    assert handover["AGENT"] == "kitchen" and "goAway" in handover["MESSAGE"]
    tool = events(entries, "tool_ok")[0]
    assert tool["AGENT"] == "kitchen" and tool["TOOL"] == "set_timer"
    assert any(entry.get("EVENT") == "connected" and entry.get("AGENT") == "kitchen" for entry in entries)
    assert not [line for line in daemon.lines if "kitchen:" in line], "every line went to the journal, none to stderr"
