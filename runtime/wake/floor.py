"""Who is in conversation on one microphone: an exclusive conversation keeps the other agents from waking.

Several agents in `wake_word` mode can listen on one shared microphone, each for its own word. Each gate
hears every block, so a word said inside one agent's conversation ("... and hey jarvis, lights off") would
wake a second agent and send the rest of the request to two sessions. A gate in conversation whose agent
has `conversation.exclusive` (the default) holds its microphone's floor; the others' detections are then
logged and ignored until it listens again.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class ConversationFloor:
    """The agents in conversation on one microphone, and whether each holds it exclusively."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._holders: dict[str, bool] = {}

    def blocker(self, agent: str) -> str | None:
        """The agent whose exclusive conversation keeps `agent` from waking, or None."""
        return next((other for other, exclusive in self._holders.items() if exclusive and other != agent), None)

    def enter(self, agent: str, exclusive: bool) -> None:
        self._holders[agent] = exclusive

    def leave(self, agent: str) -> None:
        self._holders.pop(agent, None)

    @property
    def holders(self) -> list[str]:
        return list(self._holders)


class ConversationFloors:
    """One floor per shared microphone (its device key), for the whole daemon."""

    def __init__(self) -> None:
        self._floors: dict[str, ConversationFloor] = {}

    def floor(self, key: str) -> ConversationFloor:
        found = self._floors.get(key)
        if found is None:
            found = self._floors[key] = ConversationFloor(key)
        return found
