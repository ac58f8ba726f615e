"""The load-time check of a `wake_word` agent, shared by `runtime validate` and the daemon's reader."""

from __future__ import annotations

from pathlib import Path

from runtime.agentfile.spec import AgentSpec
from runtime.errors import Location
from runtime.wake.detector import load_detector
from runtime.wake.earcons import load_earcon


def check_wake(spec: AgentSpec, path: Path) -> None:
    """Load a `wake_word` agent's detector and earcons once, raising `RuntimeConfigError` at `path`.

    A missing model file or backend, or an unreadable earcon, makes the file invalid (reported, the last good
    version kept) rather than a session that fails at every restart. (`runtime.daemon.modes` calls it for the
    agents in that mode.)
    """
    path = path.resolve()
    where = Location(str(path))
    load_detector(spec.activity.wake, where, path.parent).close()
    load_earcon(spec.conversation.start_earcon, "start", path.parent, where)
    load_earcon(spec.conversation.end_earcon, "end", path.parent, where)
