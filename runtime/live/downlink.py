"""What the model sends back: audio to the speaker, text and transcripts to the events, barge-in, usage.

Tool calls, goAway and resumption updates belong to the session (they change its state); this module
handles the content of a turn and knows whether a model turn is in progress.

An interrupted turn ends twice on the wire: `interrupted`, then that turn's own `turnComplete` (with its
usage, never with a `generationComplete`: google-genai 3.3.0 types.LiveServerContent.generation_complete,
googleapis/python-genai#1224). The barge-in is handled at `interrupted`; the `turnComplete` that follows only
closes the old turn. It may even arrive after the next reply has begun (langwatch/scenario#907 shows a late one
cutting the next reply short), so it must not end, count or flush the turn in progress. It is recognised as the
first `turnComplete` after an `interrupted` that no `generationComplete` precedes: a reply the model finished
says `generationComplete` first, so a service that ever skipped the old turn's `turnComplete` still ends the
new reply at its own.

One server message may carry several parts and fields at once (3.x models: audio, its transcription, even
`generationComplete` and `turnComplete` with `usageMetadata`); they are handled in that order, so the audio of a
message that also ends the turn is played before the turn ends. 3.x models also send a `serverContent` holding
nothing but `usageMetadata` before a reply (livekit/agents#5238): it neither starts nor ends a turn, and it is not
reported as usage, because the turn's `turnComplete` reports the turn's usage again (Gemini usage is a running
total of the response, pydantic/pydantic-ai#1577) and counting both would count the prompt twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runtime.audio.ports import AudioOut
from runtime.live.builtin_tools import code_ran, searched
from runtime.live.events import SessionEvents, SessionState, Usage

if TYPE_CHECKING:
    from google.genai import types

logger = logging.getLogger(__name__)


@dataclass
class DownlinkStats:
    """Counters a test or the bench reads; times are `time.monotonic()`."""

    audio_bytes: int = 0
    discarded_audio_bytes: int = 0
    """Audio of a model that only speaks, for an agent that wants text: received, never played."""
    turns: int = 0
    """Model turns that completed; an interrupted turn is counted in `interruptions` instead."""
    interruptions: list[float] = field(default_factory=list)
    last_audio_at: float = 0.0


class Downlink:
    """Routes the content of server messages; `in_turn` is True while the model is producing a turn."""

    def __init__(
        self, agent: str, audio_out: AudioOut, events: SessionEvents, *, text_from_speech: bool = False
    ) -> None:
        self.agent = agent
        self.audio_out = audio_out
        self.events = events
        self.text_from_speech = text_from_speech
        """The agent wants text from a model that only speaks: the output transcription is its text, and the
        audio is dropped (`ModelInfo.reply_plan`)."""
        self.in_turn = False
        self.stats = DownlinkStats()
        self._code = ""
        """The model's latest executable code, reported with its result (`code_execution`)."""
        self._interrupted_turn_open = False
        """An `interrupted` came and its turn's own `turnComplete` has not."""
        self._generation_complete = False
        """The reply in progress said `generationComplete`."""

    def content(self, content: types.LiveServerContent) -> None:
        if content.model_turn is not None:
            self.in_turn = True
            for part in content.model_turn.parts or []:
                self._part(part)
        if content.input_transcription is not None and content.input_transcription.text:
            self.events.transcript(self.agent, "user", content.input_transcription.text)
        if content.output_transcription is not None and content.output_transcription.text:
            if self.text_from_speech:
                self.events.text(self.agent, content.output_transcription.text)
            else:
                self.events.transcript(self.agent, "model", content.output_transcription.text)
        if content.grounding_metadata is not None:
            self.events.tool_call(self.agent, searched(content.grounding_metadata))
        if content.interrupted:
            self.interrupted()
        if content.generation_complete:
            self._generation_complete = True
        if content.turn_complete:
            self._turn_complete()

    def _turn_complete(self) -> None:
        if self._interrupted_turn_open and not self._generation_complete:
            self._interrupted_turn_open = False  # the interrupted turn's end: the reply in progress goes on
            logger.debug("the interrupted turn is complete")
            return
        self._interrupted_turn_open = self._generation_complete = False
        self.in_turn = False
        self.stats.turns += 1
        self.audio_out.end_of_turn()
        self.events.state(self.agent, SessionState.TURN_COMPLETE)

    def _part(self, part: types.Part) -> None:
        if part.thought:
            return
        if part.executable_code is not None:
            self._code = part.executable_code.code or ""
        elif part.code_execution_result is not None:
            self.events.tool_call(self.agent, code_ran(self._code, part.code_execution_result))
            self._code = ""
        elif part.inline_data is not None and part.inline_data.data:
            self.audio(part.inline_data.data)
        elif part.text:
            self.events.text(self.agent, part.text)

    def audio(self, pcm: bytes) -> None:
        """The model's voice: to the speaker as it comes (dropped when the agent wants text)."""
        self.in_turn = True
        if self.text_from_speech:
            self.stats.discarded_audio_bytes += len(pcm)
            return
        self.audio_out.write(pcm)
        self.stats.audio_bytes += len(pcm)
        self.stats.last_audio_at = time.monotonic()

    def new_connection(self) -> None:
        """A new connection: a turn of the old one is over (what came plays out) and owes nothing more."""
        if self.in_turn:
            self.in_turn = False
            self.audio_out.end_of_turn()
        self._interrupted_turn_open = self._generation_complete = False

    def interrupted(self) -> None:
        """Barge-in: the user spoke over the model; what is queued must stop at once."""
        self.audio_out.flush()
        self.in_turn = False
        self._interrupted_turn_open, self._generation_complete = True, False
        self.stats.interruptions.append(time.monotonic())
        logger.info("interrupted by the user")
        self.events.state(self.agent, SessionState.INTERRUPTED)

    def usage(self, message: types.LiveServerMessage) -> None:
        """The usage a message carries; a message of nothing but usage (before a 3.x reply) only at debug level."""
        metadata = message.usage_metadata
        if metadata is None:
            return
        if _usage_only(message):
            logger.debug("usage before the reply: %s prompt tokens", metadata.prompt_token_count)
            return
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


def _usage_only(message: types.LiveServerMessage) -> bool:
    """Nothing but `usageMetadata` (and at most an empty `serverContent`)."""
    fields = message.model_dump(exclude_none=True, exclude={"usage_metadata"})
    return not fields.get("server_content") and set(fields) <= {"server_content"}
