"""The token service's agents: the same agent files the devices run, read with the daemon's loader and turned into
the daemon's own connect config, so that a token locked to an agent matches what its device will ask for.

What google-genai sends (google/genai/tokens.py, `_convert_bidi_setup_to_token_setup`): the constraints become
`bidiGenerateContentSetup` (the same setup a session sends) and, with `lock_additional_fields=[]`, a `fieldMask`
naming every field set in it (two levels deep: `generationConfig.temperature`, `model`, `tools`...). Those fields
are locked; a field left out stays the client's. The resumption handle must stay the client's (it changes on every
connection), so the lock leaves `sessionResumption` out; an agent with MCP servers learns part of its tools at run
time, so its `tools` stay unlocked too. (`lock_additional_fields=None` would lock the whole setup, the handle
included: a resumed session could never name its handle.)
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.genai import types

    from runtime.agentfile.loader import LoadedAgent

logger = logging.getLogger(__name__)


class AgentCatalog:
    """Agents of a directory by name, re-read when a file of it changes (checked on each request, thread-safe)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._agents: dict[str, LoadedAgent] = {}
        self.current()

    def _stamps(self) -> tuple[tuple[str, int, int], ...]:
        from runtime.agentfile.loader import agent_files

        stamps = []
        for path in agent_files(self.directory):
            try:
                info = os.stat(path)
            except OSError:
                continue
            stamps.append((str(path), info.st_mtime_ns, info.st_size))
        return tuple(stamps)

    def current(self) -> dict[str, LoadedAgent]:
        from runtime.agentfile.loader import load_directory

        stamp = self._stamps()
        with self._lock:
            if stamp != self._stamp:
                agents, errors = load_directory(self.directory)
                for error in errors:
                    logger.warning("agent file not served: %s", error)
                self._stamp, self._agents = stamp, {agent.name: agent for agent in agents}
                logger.info("serving tokens for %d agents: %s", len(agents), ", ".join(sorted(self._agents)) or "-")
            return self._agents

    def constraints(self, name: str) -> types.LiveConnectConstraints | None:
        """The agent's model and connect config as its device will send them; None for an unknown agent."""
        agent = self.current().get(name)
        return None if agent is None else locked_constraints(agent)


def locked_constraints(agent: LoadedAgent) -> types.LiveConnectConstraints:
    from google.genai import types

    from runtime.agentfile import catalogue
    from runtime.live.config import live_config

    config = live_config(agent.spec, model=catalogue.lookup(agent.spec.model), tools=agent.tools)
    update: dict[str, object] = {"session_resumption": None}
    if agent.spec.mcp_servers():
        update["tools"] = None
    return types.LiveConnectConstraints(model=agent.spec.model, config=config.model_copy(update=update))
