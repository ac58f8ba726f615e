"""State shared by every connection of one emulator: settings, stores, and the record of the traffic."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import IO, Any

from runtime.emulator.options import EmulatorOptions, Fault
from runtime.emulator.scenario import Scenario
from runtime.emulator.state import SessionStore, TokenStore
from runtime.emulator.video import FrameSeen

logger = logging.getLogger(__name__)


@dataclass
class Traffic:
    """Every client message received and server message sent, with monotonic time stamps."""

    keep: bool
    started: float = field(default_factory=time.monotonic)
    records: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    audio_chunks: list[bytes] = field(default_factory=list)
    frames: list[FrameSeen] = field(default_factory=list)
    """Every camera frame received (size, time; runtime/emulator/video.py)."""
    record_file: IO[str] | None = None

    def client_message(self, conn: int, message: Any) -> None:
        now = time.monotonic()
        entry = {"conn": conn, "t": round(now - self.started, 6), "msg": message, "mono": now}
        if self.keep:
            self.records.append(entry)
        if self.record_file is not None:
            self.record_file.write(json.dumps(entry, separators=(",", ":")) + "\n")
            self.record_file.flush()

    def server_message(self, conn: int, message: dict[str, Any]) -> None:
        if self.keep:
            now = time.monotonic()
            self.sent.append({"conn": conn, "t": round(now - self.started, 6), "msg": message, "mono": now})

    def frame(self, frame: FrameSeen) -> None:
        if self.keep:
            self.frames.append(frame)

    def audio(self, pcm: bytes) -> None:
        if self.keep:
            self.audio_chunks.append(pcm)


class Hub:
    """One per emulator; every connection handler gets it."""

    def __init__(self, options: EmulatorOptions, scenario: Scenario, traffic: Traffic) -> None:
        self.options = options
        self.scenario = scenario
        self.traffic = traffic
        self.sessions = SessionStore(options.handle_ttl_s)
        self.tokens = TokenStore()
        self.connections = 0
        self._undeclared_seen: set[str] = set()
        self._fired_once: set[int] = set()

    def claim(self, fault: Fault) -> bool:
        """Whether `fault` may fire now: always, unless it is a `once` fault that already fired."""
        if not fault.once:
            return True
        if id(fault) in self._fired_once:
            return False
        self._fired_once.add(id(fault))
        return True

    def next_connection_number(self) -> int:
        self.connections += 1
        return self.connections

    def undeclared_call(self, name: str) -> None:
        """A scenario step calls a function the session did not declare: said once per name, not every turn
        (a scenario shared by several agents would otherwise fill the log)."""
        if name not in self._undeclared_seen:
            self._undeclared_seen.add(name)
            logger.warning(
                "the scenario calls %s, which the session did not declare; the model only calls declared "
                "functions, so that step is skipped (said once)",
                name,
            )
