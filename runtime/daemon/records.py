"""What `runtime status` and `/healthz` say about each agent, kept as plain data (no Prometheus, no I/O).

Times are wall-clock seconds (`time.time()`), since they are shown to people; they are passed in, never read
here, so the logic is tested with made-up times.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from runtime.daemon.events import AgentState
from runtime.guards.redact import SECRETS
from runtime.live.events import SessionState

RECONNECT_WINDOW_S = 3600.0
"""`runtime status` counts the reconnects of the last hour."""

HEALTHY = frozenset({"running", "listening", "in_conversation", "muted", "waiting_for_device"})
"""States `/healthz` calls healthy: the agent runs (whatever its microphone does) or waits for its device."""


@dataclass(frozen=True)
class Reconnect:
    at: float
    close_code: str
    reason: str


@dataclass
class AgentRecord:
    """One agent as the status shows it."""

    agent: str
    since: float
    """When the agent entered its current `state` (wall-clock seconds)."""
    state: str = "connecting"
    supervisor: AgentState = AgentState.STARTING
    session: SessionState | None = None
    gate: str = ""
    connected_at: float | None = None
    """When its current connection was set up; None while not connected."""
    last_error: str = ""
    reconnects: deque[Reconnect] = field(default_factory=lambda: deque(maxlen=1000))
    tokens_day: str = ""
    tokens_today: int = 0

    def add_reconnect(self, at: float, close_code: str, reason: str) -> None:
        self.reconnects.append(Reconnect(at, close_code, SECRETS.redact(reason)))
        if close_code != "1000":
            self.last_error = SECRETS.redact(reason)

    def add_tokens(self, count: int, at: float) -> None:
        day = time.strftime("%Y-%m-%d", time.localtime(at))
        if day != self.tokens_day:
            self.tokens_day, self.tokens_today = day, 0
        self.tokens_today += count

    def view(self, now: float) -> dict[str, Any]:
        """The agent as `/status` serves it (JSON)."""
        recent = [r for r in self.reconnects if now - r.at <= RECONNECT_WINDOW_S]
        last = recent[-1] if recent else None
        today = time.strftime("%Y-%m-%d", time.localtime(now))
        return {
            "agent": self.agent,
            "state": self.state,
            "since": self.since,
            "connection_age_s": None if self.connected_at is None else round(now - self.connected_at, 1),
            "reconnects_last_hour": len(recent),
            "last_close_code": last.close_code if last else None,
            "last_close_reason": last.reason if last else None,
            "tokens_today": self.tokens_today if self.tokens_day == today else 0,
            "last_error": self.last_error or None,
        }


def unhealthy(records: dict[str, AgentRecord]) -> dict[str, str]:
    """The agents `/healthz` names, with their state: those neither running nor waiting for their device."""
    return {name: record.state for name, record in sorted(records.items()) if record.state not in HEALTHY}
