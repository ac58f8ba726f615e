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
BAD_INPUT_AUDIO = (
    "error when processing input audio, please check if the inputaudio is in valid format: 16khz s16le pcm, mono "
    "channel"
)
"""The service's close reason (code 1007) for input audio it cannot process, as its users quote it
(google/adk-python#5552: a 1007 whose message cites "16khz s16le pcm, mono channel")."""
MAX_INPUT_RATE_HZ = 192_000


def pcm_rate_hz(mime_type: object) -> int:
    """The sample rate of a `realtimeInput.audio` blob, from its MIME type; 1007 for anything but raw PCM.

    What the service documents: input audio is raw little-endian 16-bit PCM, natively 16 kHz; "to convey the
    sample rate of input audio, set the MIME type ... to a value like audio/pcm;rate=16000", any rate being
    resampled (ai.google.dev Live API guide; firebase.google.com/docs/ai-logic/live-api/capabilities). A bare
    `audio/pcm` is accepted and taken as 16 kHz (mastra-ai/mastra#23722: it "works", the rate is assumed).
    Nothing public says what a rate that is not a number, a missing MIME type, a non-audio type or an encoded
    container (`audio/wav`; Firebase lists containers as accepted, decoded by the service) get: the emulator
    takes the stricter side and closes with 1007. A witness that refuses what it cannot vouch for lets no
    test pass on input the service might reject; the runtime only ever sends `audio/pcm;rate=16000`.
    """
    text = mime_type if isinstance(mime_type, str) else ""
    kind, *parameters = [piece.strip() for piece in text.split(";")]
    if kind.lower() != "audio/pcm":
        reason = f"realtimeInput.audio mimeType {text[:40]!r}: expected audio/pcm;rate=RATE (raw 16-bit PCM)"
        raise ProtocolViolation(INVALID_ARGUMENT, reason)
    rates = [value for name, _, value in (p.partition("=") for p in parameters) if name.strip().lower() == "rate"]
    if not rates:
        return 16000
    rate = rates[-1].strip()
    if not rate.isdigit() or not 0 < int(rate) <= MAX_INPUT_RATE_HZ:
        raise ProtocolViolation(INVALID_ARGUMENT, BAD_INPUT_AUDIO)
    return int(rate)


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
        if len(pcm) % 2:
            # Half a 16-bit sample cannot be PCM16: refused like input the service cannot process (no public
            # statement on odd lengths; the stricter side, see `pcm_rate_hz`). Whole samples per message, even
            # if the next message would complete it: the service documents no reassembly across messages.
            raise ProtocolViolation(INVALID_ARGUMENT, BAD_INPUT_AUDIO)
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
