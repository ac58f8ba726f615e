"""What a satellite agent's satellite hears back of the conversation, so its LEDs and sounds follow it.

Home Assistant tells a satellite its pipeline's progress (assist_satellite.py `on_pipeline_event`):
`detection` when the server heard the wake word, `transcript` with what the user said (which also ends a
wake-word satellite's streaming), `error`. Here: a satellite that heard its own wake word gets `transcript`
once the agent's reply went out (`SatelliteLink.exchange_done`); a continuously streaming satellite behind
the agent's wake gate gets `detection` when the gate opens and `transcript` when it closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from runtime.live.events import NullEvents, SessionState

if TYPE_CHECKING:
    from runtime.satellite.link import SatelliteLink
    from runtime.wake.lifecycle import ConversationEvent, ConversationListener


class SatelliteFeedback(NullEvents):
    """Session events that end a satellite's exchange: the user's words, sent once the model's turn is done."""

    def __init__(self, link: SatelliteLink) -> None:
        self.link = link
        self._heard: list[str] = []

    def transcript(self, agent: str, role: Literal["user", "model"], text: str) -> None:
        if role == "user":
            self._heard.append(text)

    def state(self, agent: str, state: SessionState, detail: str = "") -> None:
        if state is SessionState.TURN_COMPLETE:
            self.link.exchange_done("".join(self._heard).strip())
            self._heard.clear()


def gate_feedback(link: SatelliteLink, wake_word: str) -> ConversationListener:
    """A wake-gate listener telling a continuously streaming satellite when the server heard its wake word
    (`detection`: its `--detection-command` runs) and when the conversation closed (`transcript`:
    `AlwaysStreamingSatellite` re-runs its `--streaming-start-command`, resetting its LEDs)."""
    from wyoming.wake import Detection

    from runtime.satellite.link import transcript_event
    from runtime.wake.lifecycle import ConversationState

    def listener(event: ConversationEvent) -> None:
        if event.state is ConversationState.CONVERSATION:
            link.send(Detection(name=wake_word).event())
        elif event.reason != "muted":
            link.send(transcript_event(""))

    return listener
