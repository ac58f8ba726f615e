"""The chaos and soak rig: an emulator in a thread of this process (its records and fault log readable), a
directory of agents with numbered WAV microphones, and `runtime run` as a real subprocess pointed at it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runtime.emulator import Emulator, EmulatorOptions, EmulatorThread, Fault, parse_scenario
from tests.chaos.analysis import FaultEvent
from tests.chaos.frames import SpeechPattern, numbered_pcm, write_wav
from tests.daemon.harness import MODEL, Daemon, start_daemon

DEADLINE = "Deadline expired"
SESSION_LIMIT = "Maximum session duration"
INJECTED = re.compile(r"connection (\d+): injecting fault (\S+)$")
CLOSED = re.compile(r"connection (\d+): closed with (\d+) (.*)$", re.DOTALL)
"""The emulator's log lines (runtime/emulator/session.py) a `FaultLog` reads."""
TOOLS_MODULE = '''"""Tools of the chaos agents."""


def clock(city: str) -> dict[str, str]:
    """The time in a city."""
    return {"time": "12:00 in " + city}
'''


def scenario_document(turns: int) -> dict[str, object]:
    """Speech turns cycle through a greeting, a long story (barged into by the next turn) and a tool call."""
    cycle = ["hello there", "tell me a story", "what time is it in Paris"]
    story = "Once upon a time a small speaker kept listening, day and night, through every storm."
    return {
        "speech_transcripts": [cycle[i % len(cycle)] for i in range(turns)],
        "rules": [
            {"when": {"text": "story"}, "then": [{"say": story}]},
            {
                "when": {"text": "time"},
                "then": [{"tool_call": {"name": "clock", "args": {"city": "Paris"}}}, {"say_tool_result": "clock"}],
            },
        ],
    }


def agent_file(name: str, *, version: int = 1, output: str | None = None, extra: str = "") -> str:
    speaker = output or f"file:{name}-out.wav"
    return (
        f"name: {name}\nmodel: {MODEL}\n"
        f"instructions: You are chaos agent {name}, version {version}. Be brief.\n"
        f"audio:\n  input: {{device: 'file:{name}-mic.wav'}}\n  output: {{device: '{speaker}'}}\n"
        "tools:\n  - name: clock\n    python: chaos_tools:clock\n"
        "supervision: {backoff_s: [0.5, 4], max_restarts: 20, window_s: 300}\n"
        f"{extra}"
    )


def make_agents(
    directory: Path,
    names: list[str],
    seconds: float,
    pattern: SpeechPattern,
    *,
    output: str | None = None,
    extra: str = "",
) -> Path:
    """Agents `names`, each with `seconds` of numbered microphone audio (agent number = index + 1)."""
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    (directory / "chaos_tools.py").write_text(TOOLS_MODULE)
    for index, name in enumerate(names):
        write_wav(directory / f"{name}-mic.wav", numbered_pcm(index + 1, seconds, pattern))
        (directory / f"{name}.yaml").write_text(agent_file(name, output=output, extra=extra))
    return directory


class FaultLog(logging.Handler):
    """Reads the emulator's own log lines into `FaultEvent`s, stamped with the monotonic clock."""

    def __init__(self, faults: tuple[Fault, ...]) -> None:
        super().__init__(logging.INFO)
        self._rejecting = {f.conn for f in faults if f.action == "reject_setup"}
        self._closing: dict[int, float] = {}
        """Connections a close fault was injected into, and when: labelled by the code they close with, since
        a `once` fault fires on whichever connection from its planned one gets there first, not the planned one."""
        self._lock_events = threading.Lock()
        self.events: list[FaultEvent] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The formatted line, not `record.args`: once a test in this process has installed the runtime's
        # redacting record factory (runtime.guards.redact), every record arrives formatted, its args gone.
        now, message = time.monotonic(), record.getMessage()
        event = None
        if injected := INJECTED.match(message):
            conn, action = int(injected[1]), injected[2]
            if action == "close":
                self._closing[conn] = now
            else:
                event = FaultEvent(now, conn, action)
        elif closed := CLOSED.match(message):
            conn, code, reason = int(closed[1]), int(closed[2]), closed[3]
            if conn in self._closing:
                event = FaultEvent(self._closing.pop(conn), conn, f"close {code}")
            elif conn in self._rejecting:
                event = FaultEvent(now, conn, f"reject_setup {code}")
            elif reason.startswith(DEADLINE):
                event = FaultEvent(now, conn, f"limit {code}")
            elif reason.startswith(SESSION_LIMIT):
                event = FaultEvent(now, conn, f"session limit {code}")
        if event is not None:
            with self._lock_events:
                self.events.append(event)  # in the order the lines came; `all_events` sorts by time


@dataclass
class Rig:
    emulator: Emulator
    fault_log: FaultLog
    daemon: Daemon
    agents: Path
    state: Path
    started: float = field(default_factory=time.monotonic)


@contextlib.contextmanager
def running(tmp: Path, agents: Path, options: EmulatorOptions, *, verbose: bool = False) -> Iterator[Rig]:
    """Emulator up, daemon up and READY; on exit the daemon gets SIGTERM, then the emulator stops."""
    fault_log = FaultLog(options.faults)
    emulator_logger = logging.getLogger("runtime.emulator.session")
    previous_level = emulator_logger.level
    emulator_logger.setLevel(logging.INFO)
    emulator_logger.addHandler(fault_log)
    try:
        with EmulatorThread(options) as emulator:
            args = ["--backend", "gemini", "--base-url", emulator.base_url, "--ca-file", str(emulator.ca_file)]
            daemon = start_daemon(
                agents, tmp, *args, *(["--verbose"] if verbose else []), env={"GEMINI_API_KEY": "chaos-test-key"}
            )
            try:
                daemon.notify.expect("READY", timeout_s=60)
                yield Rig(emulator, fault_log, daemon, agents, tmp / "state")
            finally:
                daemon.stop()
                daemon.notify.close()
    finally:
        emulator_logger.removeHandler(fault_log)
        emulator_logger.setLevel(previous_level)


def emulator_options(turns: int, **settings: object) -> EmulatorOptions:
    scenario = parse_scenario(scenario_document(turns), "chaos scenario")
    return EmulatorOptions(scenario_obj=scenario, **settings)  # type: ignore[arg-type]


def proc_sample(pid: int) -> dict[str, float]:
    """RSS (MiB), open file descriptors and threads of a process, from /proc."""
    status = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        status[key] = value.split()
    return {
        "rss_mib": int(status["VmRSS"][0]) / 1024,
        "fds": float(len(os.listdir(f"/proc/{pid}/fd"))),
        "threads": float(status["Threads"][0]),
    }


def last_status(daemon: Daemon) -> str:
    statuses = [m["STATUS"] for _, _, m in daemon.notify.messages if "STATUS" in m]
    return statuses[-1] if statuses else ""


def drain_notify(daemon: Daemon) -> None:
    """Read every pending notify datagram into `daemon.notify.messages`."""
    while daemon.notify.receive(0.01) is not None:
        pass
