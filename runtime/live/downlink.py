"""What the model sends back: audio to the speaker, text and transcripts to the events, barge-in, usage.

Tool calls, goAway and resumption updates belong to the session (they change its state); this module
handles the content of a turn and knows whether a model turn is in progress.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runtime.audio.ports import AudioOut
from runtime.live.events import SessionEvents, Usage

if TYPE_CHECKING:
    from google.genai import types

logger = logging.getLogger(__name__)


@dataclass
class DownlinkStats:
    """Counters a test or the bench reads; times are `time.monotonic()`."""

    audio_bytes: int = 0
    turns: int = 0
    interruptions: list[float] = field(default_factory=list)
    last_audio_at: float = 0.0


class Downlink:
    """Routes the content of server messages; `in_turn` is True while the model is producing a turn."""

    def __init__(self, agent: str, audio_out: AudioOut, events: SessionEvents) -> None:
        self.agent = agent
        self.audio_out = audio_out
        self.events = events
        self.in_turn = False
        self.stats = DownlinkStats()

    def content(self, content: types.LiveServerContent) -> None:
        if content.model_turn is not None:
            self.in_turn = True
            for part in content.model_turn.parts or []:
                self._part(part)
        if content.input_transcription is not None and content.input_transcription.text:
            self.events.transcript(self.agent, "user", content.input_transcription.text)
        if content.output_transcription is not None and content.output_transcription.text:
            self.events.transcript(self.agent, "model", content.output_transcription.text)
        if content.interrupted:
            self.interrupted()
        if content.turn_complete:
            self.in_turn = False
            self.stats.turns += 1
            self.audio_out.end_of_turn()
            self.events.state(self.agent, "turn_complete")

    def _part(self, part: types.Part) -> None:
        if part.thought:
            return
        if part.inline_data is not None and part.inline_data.data:
            self.audio(part.inline_data.data)
        elif part.text:
            self.events.text(self.agent, part.text)

    def audio(self, pcm: bytes) -> None:
        """The model's voice: to the speaker as it comes."""
        self.in_turn = True
        self.audio_out.write(pcm)
        self.stats.audio_bytes += len(pcm)
        self.stats.last_audio_at = time.monotonic()

    def turn_cut(self) -> None:
        """The connection ended in the middle of a model turn: play out what came, expect no more of it."""
        self.in_turn = False
        self.audio_out.end_of_turn()

    def interrupted(self) -> None:
        """Barge-in: the user spoke over the model; what is queued must stop at once."""
        self.audio_out.flush()
        self.in_turn = False
        self.stats.interruptions.append(time.monotonic())
        logger.info("interrupted by the user", extra={"agent": self.agent})
        self.events.state(self.agent, "interrupted")

    def usage(self, metadata: types.UsageMetadata) -> None:
        by_modality: dict[str, int] = {}
        for detail in metadata.response_tokens_details or []:
            if detail.modality is not None and detail.token_count is not None:
                by_modality[str(detail.modality.value).lower()] = detail.token_count
        self.events.usage(
            self.agent,
            Usage(
                prompt_tokens=metadata.prompt_token_count or 0,
                response_tokens=metadata.response_token_count or 0,
                total_tokens=metadata.total_token_count or 0,
                by_modality=by_modality,
            ),
        )
