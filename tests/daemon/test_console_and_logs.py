"""How events and log lines read: the conversation printout, journald priorities, JSON lines, STATUS=."""

from __future__ import annotations

import io
import json
import logging

from runtime.daemon.console import ConversationPrinter, format_tool
from runtime.daemon.events import AgentState
from runtime.daemon.logs import CURRENT_AGENT, AgentFilter, JsonFormatter, TextFormatter, syslog_priority
from runtime.daemon.status import summarize
from runtime.live.events import ToolOutcome, Usage


def test_transcript_pieces_are_joined_into_one_line_per_speaker() -> None:
    lines: list[str] = []
    printer = ConversationPrinter(lines.append)
    for piece in ("Set a ", "timer for", " five minutes."):
        printer.transcript("kitchen", "user", piece)
    printer.transcript("kitchen", "model", "Done.")
    printer.tool_call("kitchen", ToolOutcome("set_timer", "c1", {"minutes": 5}, {"status": "started"}, 0.003, True))
    printer.transcript("kitchen", "model", "Your timer ")
    printer.transcript("kitchen", "model", "is running.")
    printer.usage("kitchen", Usage(prompt_tokens=10, response_tokens=5, total_tokens=15))
    printer.state("kitchen", "turn_complete")
    assert [line.split("│")[1].strip() for line in lines] == [
        "Set a timer for five minutes.",
        "Done.",
        'set_timer(minutes=5) → {"status": "started"}  (3 ms)',
        "Your timer is running.",
        "10 prompt + 5 response = 15 tokens",
    ]
    assert all(line.startswith("kitchen ") for line in lines)


def test_a_failed_tool_call_is_marked() -> None:
    outcome = ToolOutcome("weather", "c2", {"city": "Paris"}, {"error": "timed out"}, 5.0, False)
    assert format_tool(outcome).startswith('weather(city="Paris") ✗ {"error": "timed out"}')


def _record(level: int, message: str, agent: str = "") -> logging.LogRecord:
    record = logging.LogRecord("runtime.live.session", level, __file__, 1, message, None, None)
    token = CURRENT_AGENT.set(agent)
    try:
        AgentFilter().filter(record)
    finally:
        CURRENT_AGENT.reset(token)
    return record


def test_journald_lines_carry_the_syslog_priority_and_the_agent() -> None:
    formatter = TextFormatter(journald=True)
    line = formatter.format(_record(logging.WARNING, "restarting\nin 2 s", "kitchen"))
    assert line == "<4>kitchen: restarting | in 2 s"
    assert formatter.format(_record(logging.INFO, "stopped")) == "<6>runtime: stopped"
    assert [syslog_priority(level) for level in (50, 40, 30, 20, 10)] == [2, 3, 4, 6, 7]


def test_terminal_lines_carry_the_level_word() -> None:
    line = TextFormatter(journald=False).format(_record(logging.ERROR, "parked as failed", "desk"))
    assert line == "ERROR   desk: parked as failed"


def test_json_lines_parse() -> None:
    entry = json.loads(JsonFormatter().format(_record(logging.INFO, 'said "hi"', "kitchen")))
    assert entry["agent"] == "kitchen" and entry["level"] == "info" and entry["msg"] == 'said "hi"'


def test_secrets_never_reach_a_daemon_log_line() -> None:
    from runtime.daemon.logs import setup_logging
    from runtime.guards.redact import SECRETS

    SECRETS.add("sk-daemon-test-secret-123")
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        setup_logging("text", stream=stream)
        logging.getLogger("runtime.test").warning("key is %s", "sk-daemon-test-secret-123")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert "sk-daemon-test-secret-123" not in stream.getvalue() and "key is ***" in stream.getvalue()


def test_status_names_the_agents_that_need_attention() -> None:
    states = {"kitchen": AgentState.RUNNING, "desk": AgentState.WAITING_DEVICE, "hall": AgentState.PARKED,
              "den": AgentState.RUNNING}
    assert summarize(states, 1) == "4 agents: 2 running, 1 waiting for device (desk), 1 failed (hall); 1 invalid file"
    assert summarize({}) == "0 agents"
    assert summarize({"kitchen": AgentState.BACKOFF}) == "1 agent: 1 restarting (kitchen)"


RESCAN_WHILE_LOGGING = """
import logging, sys, threading
from runtime.daemon.logs import own_stderr, setup_logging
from runtime.audio.keeper import refresh_device_list
if sys.argv[1] == "own":
    own_stderr()
setup_logging("text")
stop = threading.Event()
def rescan() -> None:
    while not stop.is_set():
        refresh_device_list()  # what the daemon does while an agent waits for its microphone
thread = threading.Thread(target=rescan)
thread.start()
for i in range(int(sys.argv[2])):
    logging.getLogger("runtime.test").info("line %d", i)
    stop.wait(0.001)
stop.set()
thread.join()
"""


def test_log_lines_survive_portaudio_moving_descriptor_2_while_it_rescans_devices() -> None:
    import subprocess
    import sys

    lines = 1500
    result = subprocess.run(
        [sys.executable, "-c", RESCAN_WHILE_LOGGING, "own", str(lines)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    logged = [line for line in result.stderr.splitlines() if "runtime: line " in line]
    assert len(logged) == lines, f"{lines - len(logged)} log lines lost"
