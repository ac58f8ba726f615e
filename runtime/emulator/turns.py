"""The user's side of a session: audio through voice activity detection (or manual activity), and text turns."""

from __future__ import annotations

import logging
import time
from typing import Any

from runtime.emulator.config import SessionConfig
from runtime.emulator.hub import Hub
from runtime.emulator.state import Conversation, Turn, audio_tokens, text_tokens
from runtime.emulator.vad import EnergyVad, VadEvent
from runtime.emulator.wire import INVALID_ARGUMENT, ProtocolViolation, decode_bytes

logger = logging.getLogger(__name__)

STARTED, ENDED = "started", "ended"
EXPLICIT_ACTIVITY_REFUSED = "Explicit activity control is not supported when automatic activity detection is enabled."


class UserInput:
    """Turns client input into "started"/"ended" speech events and user turns in the context."""

    def __init__(self, config: SessionConfig, conversation: Conversation, hub: Hub) -> None:
        self._config = config
        self._conversation = conversation
        self._hub = hub
        self._vad = EnergyVad(config.vad)
        self._rate_hz = 16000
        self._in_activity = False
        self._turn_bytes = 0
        self.last_audio_at = time.monotonic()
        self.heard_audio = False

    @property
    def speaking(self) -> bool:
        """The detector is inside a speech turn (automatic activity detection only)."""
        return not self._config.manual_activity and self._vad.speaking

    def audio(self, data: str, rate_hz: int) -> list[str]:
        pcm = decode_bytes(data, "realtimeInput.audio.data")
        self.last_audio_at, self.heard_audio = time.monotonic(), True
        if rate_hz != self._rate_hz:
            logger.info("input audio at %d Hz (the service resamples it; 16000 Hz is native)", rate_hz)
            self._rate_hz = rate_hz
            self._vad.set_rate(rate_hz)
        self._hub.traffic.audio(pcm)
        if self._config.manual_activity:
            if self._in_activity:
                self._turn_bytes += len(pcm)
            return []
        was_speaking = self._vad.speaking
        events = [STARTED if event is VadEvent.SPEECH_STARTED else ENDED for event in self._vad.feed(pcm)]
        if was_speaking or self._vad.speaking or events:
            self._turn_bytes += len(pcm)
        return events

    def activity(self, kind: str) -> list[str]:
        """Manual `activityStart` / `activityEnd`; refused while automatic detection is on, as the service does."""
        if not self._config.manual_activity:
            raise ProtocolViolation(INVALID_ARGUMENT, EXPLICIT_ACTIVITY_REFUSED)
        if kind == "activityStart" and not self._in_activity:
            self._in_activity, self._turn_bytes = True, 0
            return [STARTED]
        if kind == "activityEnd" and self._in_activity:
            self._in_activity = False
            return [ENDED]
        return []

    def stream_ended(self) -> list[str]:
        """`audioStreamEnd`: a pending speech turn ends now instead of after the silence timeout."""
        if self._config.manual_activity or not self._vad.speaking:
            return []
        self._vad.reset()
        return [ENDED]

    def finish_speech_turn(self) -> str:
        transcript = self._hub.scenario.transcript(self._conversation.speech_turns)
        self._conversation.speech_turns += 1
        tokens = audio_tokens(self._turn_bytes, self._rate_hz)
        self._conversation.history.append(Turn("user", transcript, audio_tokens=max(tokens, 1)))
        self._turn_bytes = 0
        return transcript

    def add_text(self, text: str) -> None:
        self._conversation.history.append(Turn("user", text, text_tokens=text_tokens(text)))

    def add_turns(self, turns: list[dict[str, Any]]) -> str:
        """Append `clientContent` turns to the context; return the words of the last user turn."""
        last_user_words = ""
        for turn in turns:
            words = " ".join(str(part["text"]) for part in turn.get("parts", []) if "text" in part)
            role = str(turn.get("role", "user"))
            self._conversation.history.append(Turn(role, words, text_tokens=text_tokens(words)))
            if role == "user":
                last_user_words = words
        if not turns:  # a bare turnComplete answers the user's latest words
            last_user_words = next((t.text for t in reversed(self._conversation.history) if t.role == "user"), "")
        return last_user_words
