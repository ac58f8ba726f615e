"""Where session events go: a conversation printout for people at a terminal, or log lines for journald.

Transcripts arrive in pieces; the printer joins the pieces of one speaker and prints the line when the
other side speaks, a tool runs or the turn ends, so the console reads like a conversation.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, Literal

from runtime.guards.redact import SECRETS
from runtime.live.events import SessionEvents, SessionState, ToolOutcome, Usage

log = logging.getLogger("runtime.conversation")

Role = Literal["user", "model"]

ROLE_LABEL = {"user": "you", "model": "agent"}
SHOWN_STATES = frozenset({SessionState.INTERRUPTED, SessionState.TOOL_CANCELLED})
"""Conversation events worth a line; connection changes are in the log already."""


def short_json(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_line(agent: str, label: str, text: str) -> str:
    return f"{agent:<10} {label:<6} │ {text}"


def format_tool(outcome: ToolOutcome) -> str:
    args = ", ".join(f"{k}={short_json(v, 40)}" for k, v in outcome.args.items())
    mark = "→" if outcome.ok else "✗"
    return f"{outcome.name}({args}) {mark} {short_json(outcome.result)}  ({outcome.duration_s * 1000:.0f} ms)"


def format_usage(usage: Usage) -> str:
    return f"{usage.prompt_tokens} prompt + {usage.response_tokens} response = {usage.total_tokens} tokens"


class ConversationPrinter:
    """`SessionEvents` printed as a readable conversation (the `--demo` and terminal view)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._sink = write
        self._pending: dict[tuple[str, Role], list[str]] = {}
        self._lock = threading.Lock()

    def _write(self, line: str) -> None:
        # The model may repeat a secret it saw in a tool result; printed text leaves the process like a log line.
        self._sink(SECRETS.redact(line))

    def transcript(self, agent: str, role: Role, text: str) -> None:
        with self._lock:
            other: Role = "model" if role == "user" else "user"
            self._flush_one(agent, other)
            self._pending.setdefault((agent, role), []).append(text)

    def text(self, agent: str, text: str) -> None:
        self.transcript(agent, "model", text)

    def tool_call(self, agent: str, outcome: ToolOutcome) -> None:
        with self._lock:
            self._flush(agent)
            self._write(format_line(agent, "tool", format_tool(outcome)))

    def usage(self, agent: str, usage: Usage) -> None:
        with self._lock:
            self._flush(agent)
            self._write(format_line(agent, "usage", format_usage(usage)))

    def state(self, agent: str, state: str, detail: str = "") -> None:
        with self._lock:
            self._flush(agent)
            if state in SHOWN_STATES:
                self._write(format_line(agent, "·", f"{state}{': ' + detail if detail else ''}"))

    def flush(self) -> None:
        with self._lock:
            for agent in {a for a, _ in self._pending}:
                self._flush(agent)

    def _flush(self, agent: str) -> None:
        self._flush_one(agent, "user")
        self._flush_one(agent, "model")

    def _flush_one(self, agent: str, role: Role) -> None:
        pieces = self._pending.pop((agent, role), [])
        text = "".join(pieces).strip()
        if text:
            self._write(format_line(agent, ROLE_LABEL[role], " ".join(text.split())))


class LogEvents:
    """`SessionEvents` as log lines: state changes at INFO; words people said only at DEBUG (privacy)."""

    def transcript(self, agent: str, role: Role, text: str) -> None:
        log.debug("%s: %s", ROLE_LABEL[role], text)

    def text(self, agent: str, text: str) -> None:
        log.debug("agent: %s", text)

    def tool_call(self, agent: str, outcome: ToolOutcome) -> None:
        log.debug("tool %s", format_tool(outcome))

    def usage(self, agent: str, usage: Usage) -> None:
        log.debug("usage: %s", format_usage(usage))

    def state(self, agent: str, state: str, detail: str = "") -> None:
        level = logging.DEBUG if state in ("turn_complete", "interrupted") else logging.INFO
        log.log(level, "%s%s", state, f": {detail}" if detail else "")


class FanOut:
    """Several receivers of the same events (the printer, the demo's progress tracker)."""

    def __init__(self, *receivers: SessionEvents) -> None:
        self.receivers = receivers

    def transcript(self, agent: str, role: Role, text: str) -> None:
        for receiver in self.receivers:
            receiver.transcript(agent, role, text)

    def text(self, agent: str, text: str) -> None:
        for receiver in self.receivers:
            receiver.text(agent, text)

    def tool_call(self, agent: str, outcome: ToolOutcome) -> None:
        for receiver in self.receivers:
            receiver.tool_call(agent, outcome)

    def usage(self, agent: str, usage: Usage) -> None:
        for receiver in self.receivers:
            receiver.usage(agent, usage)

    def state(self, agent: str, state: SessionState, detail: str = "") -> None:
        for receiver in self.receivers:
            receiver.state(agent, state, detail)
