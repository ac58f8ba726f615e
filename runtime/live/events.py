"""What a session reports as it runs: transcripts, text, tool calls, usage, connection changes.

The daemon prints these (console, journald), the bench timestamps them; the session only calls them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


class SessionState(enum.StrEnum):
    """A change in a session's connection or conversation, as `SessionEvents.state` reports it."""

    CONNECTING = "connecting"
    """A connection is being opened (detail: `resuming` or `new session`)."""
    READY = "ready"
    """The connection's `setupComplete` arrived."""
    HANDOVER = "handover"
    """The connection is being replaced after goAway (detail: why now)."""
    RECONNECTING = "reconnecting"
    """The connection ended unplanned; a new one follows (detail: how it ended)."""
    ERROR = "error"
    """An auth/quota failure: retried slowly (detail: the service's reason)."""
    TURN_COMPLETE = "turn_complete"
    """The model finished its turn."""
    INTERRUPTED = "interrupted"
    """The user spoke over the model (barge-in)."""
    TOOL_CANCELLED = "tool_cancelled"
    """The model cancelled a running tool call (detail: `name (id)`)."""


@dataclass(frozen=True)
class ToolOutcome:
    """One finished tool call, as logged (arguments only at debug level)."""

    name: str
    call_id: str
    args: dict[str, Any]
    result: dict[str, Any]
    duration_s: float
    ok: bool
    declared: bool = False
    """The session had told the model of a tool by this name (False, the default: a name the model made up, or
    not known to be declared; its name is then never a metric label)."""


@dataclass(frozen=True)
class Usage:
    """Token counts from a `usageMetadata`."""

    prompt_tokens: int = 0
    response_tokens: int = 0
    total_tokens: int = 0
    by_modality: dict[str, int] = field(default_factory=dict)


class SessionEvents(Protocol):
    """Receiver of a session's observable events; every method must return quickly and never raise."""

    def transcript(self, agent: str, role: Literal["user", "model"], text: str) -> None: ...

    def text(self, agent: str, text: str) -> None: ...

    def tool_call(self, agent: str, outcome: ToolOutcome) -> None: ...

    def usage(self, agent: str, usage: Usage) -> None: ...

    def state(self, agent: str, state: SessionState, detail: str = "") -> None:
        """Connection and lifecycle changes (a `StrEnum`: sinks that print it need no mapping)."""


class NullEvents:
    """Events that go nowhere."""

    def transcript(self, agent: str, role: Literal["user", "model"], text: str) -> None:
        pass

    def text(self, agent: str, text: str) -> None:
        pass

    def tool_call(self, agent: str, outcome: ToolOutcome) -> None:
        pass

    def usage(self, agent: str, usage: Usage) -> None:
        pass

    def state(self, agent: str, state: SessionState, detail: str = "") -> None:
        pass
