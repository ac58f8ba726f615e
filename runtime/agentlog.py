"""Which agent a log line belongs to: one context variable, set by whoever works for an agent.

A session sets it for its own tasks (`working_for`), the supervisor for the tasks it starts; anyio tasks and
worker threads copy the context they were started from, so every line a session, its tools or its mode logs
is tagged without passing the name around. The daemon's log filter (`runtime.daemon.logs`) reads it; nothing
else puts an agent on a record.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

CURRENT_AGENT: contextvars.ContextVar[str] = contextvars.ContextVar("runtime_agent", default="")
"""The agent the current task works for ("" outside any agent)."""


@contextlib.contextmanager
def working_for(agent: str) -> Iterator[None]:
    """Tag what the current task (and what it starts) logs with `agent`, until the block ends."""
    token = CURRENT_AGENT.set(agent)
    try:
        yield
    finally:
        CURRENT_AGENT.reset(token)
