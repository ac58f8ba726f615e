"""What a session reports as it runs: transcripts, text, tool calls, usage, connection changes.

The daemon prints these (console, journald), the bench timestamps them; the session only calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class ToolOutcome:
    """One finished tool call, as logged (arguments only at debug level)."""

    name: str
    call_id: str
    args: dict[str, Any]
    result: dict[str, Any]
    duration_s: float
    ok: bool


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

    def state(self, agent: str, state: str, detail: str = "") -> None:
        """Connection and lifecycle changes: connecting, ready, handover, reconnecting, interrupted, ..."""


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

    def state(self, agent: str, state: str, detail: str = "") -> None:
        pass
