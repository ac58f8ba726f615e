"""One model turn on the wire: text parts or real-time audio chunks, tool calls, transcripts, usage."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from runtime.emulator.config import SessionConfig
from runtime.emulator.scenario import CallTool, Say, SayToolResult, Step
from runtime.emulator.state import Conversation, Turn, audio_tokens, text_tokens
from runtime.emulator.voice import OUTPUT_RATE_HZ, synthesize
from runtime.emulator.wire import encode_bytes

OUTPUT_MIME = f"audio/pcm;rate={OUTPUT_RATE_HZ}"
Send = Callable[[dict[str, Any]], Awaitable[None]]
Undeclared = Callable[[str], None]


@dataclass
class PendingCall:
    """A function call the model made and whose response has not arrived yet."""

    name: str
    blocking: bool
    answered: anyio.Event = field(default_factory=anyio.Event)


def result_text(response: Any) -> str:
    """What the model says about a tool result: a lone string value as is, anything else as JSON."""
    if isinstance(response, dict) and len(response) == 1:
        (value,) = response.values()
        if isinstance(value, str | int | float):
            return str(value)
    if response is None:
        return "I have no result yet."
    return json.dumps(response, separators=(", ", ": "))


class Replier:
    """Plays scenario steps as one model turn; knows nothing about sockets beyond `send`."""

    def __init__(
        self, send: Send, config: SessionConfig, conversation: Conversation, chunk_ms: int, undeclared: Undeclared
    ) -> None:
        self._send = send
        self._config = config
        self._conversation = conversation
        self._chunk_s = max(chunk_ms, 5) / 1000
        self._undeclared = undeclared
        self.pending: dict[str, PendingCall] = {}
        self._response_tokens = 0
        self._prompt_tokens = (0, 0)

    async def play(self, steps: tuple[Step, ...]) -> None:
        """Send the turn's content, then generationComplete and turnComplete with usage."""
        self._response_tokens = 0
        self._prompt_tokens = self._conversation.modality_tokens()
        for step in steps:
            if isinstance(step, Say):
                await self._say(step.text)
            elif isinstance(step, CallTool):
                await self._call(step)
            elif isinstance(step, SayToolResult):
                await self._say(result_text(self._conversation.tool_results.get(step.name)))
        await self._send({"serverContent": {"generationComplete": True}})
        await self._send(self.turn_end())

    def turn_end(self) -> dict[str, Any]:
        """The latest turn's turnComplete, with its usage: the prompt as the turn found it, the response that
        reached the client (an interrupted turn counts only what was sent before the interruption)."""
        return {"serverContent": {"turnComplete": True}, "usageMetadata": self._usage(*self._prompt_tokens)}

    def _usage(self, prompt_text: int, prompt_audio: int) -> dict[str, Any]:
        prompt = prompt_text + prompt_audio
        details = [
            {"modality": modality, "tokenCount": count}
            for modality, count in (("TEXT", prompt_text), ("AUDIO", prompt_audio))
            if count
        ]
        return {
            "promptTokenCount": prompt,
            "responseTokenCount": self._response_tokens,
            "totalTokenCount": prompt + self._response_tokens,
            "promptTokensDetails": details,
            "responseTokensDetails": [
                {"modality": "AUDIO" if self._config.audio_out else "TEXT", "tokenCount": self._response_tokens}
            ],
        }

    async def _say(self, text: str) -> None:
        if not self._config.audio_out:
            for piece in _pieces(text):
                await self._send({"serverContent": {"modelTurn": {"role": "model", "parts": [{"text": piece}]}}})
            self._conversation.history.append(Turn("model", text, text_tokens=text_tokens(text)))
            self._response_tokens += text_tokens(text)
            return
        sent = [0]
        try:
            await self._speak(text, sent)
        finally:
            # Like the service, an interrupted turn keeps only what already reached the client.
            spoken_chars = round(len(text) * sent[0] / max(len(synthesize(text)), 1))
            tokens = audio_tokens(sent[0], OUTPUT_RATE_HZ)
            self._conversation.history.append(Turn("model", text[:spoken_chars], audio_tokens=tokens))
            self._response_tokens += tokens

    async def _speak(self, text: str, sent: list[int]) -> None:
        """Stream synthesized speech at real-time pace (counting bytes in `sent`); transcript words as they start."""
        pcm = synthesize(text)
        chunk_bytes = int(OUTPUT_RATE_HZ * self._chunk_s) * 2
        words = _pieces(text, words_per_piece=1)
        started = anyio.current_time()
        said_chars, bytes_per_char = 0, max(1, len(pcm) // max(len(text), 1))
        for index, offset in enumerate(range(0, len(pcm), chunk_bytes)):
            await anyio.sleep_until(started + index * self._chunk_s)
            if self._config.transcribe_output:
                while words and said_chars * bytes_per_char <= offset + chunk_bytes:
                    word = words.pop(0)
                    said_chars += len(word)
                    await self._send({"serverContent": {"outputTranscription": {"text": word}}})
            chunk = pcm[offset : offset + chunk_bytes]
            part = {"inlineData": {"mimeType": OUTPUT_MIME, "data": encode_bytes(chunk)}}
            await self._send({"serverContent": {"modelTurn": {"role": "model", "parts": [part]}}})
            sent[0] += len(chunk)

    async def _call(self, step: CallTool) -> None:
        if step.name not in self._config.declared_tools:
            # The model calls only functions the session declared in `tools.functionDeclarations`: google-genai
            # 3.3.0 types.FunctionCallingConfigMode says predicted calls are "any one of the provided
            # function_declarations", and that a model without declarations "will not predict any function
            # calls". A scripted call of anything else is a scenario written for another agent: skipped.
            self._undeclared(step.name)
            return
        call_id = "function-call-" + secrets.token_hex(8)
        blocking = step.name not in self._config.non_blocking_tools
        call = PendingCall(step.name, blocking)
        self.pending[call_id] = call
        self._conversation.history.append(Turn("model", json.dumps(step.args), text_tokens=text_tokens(step.name)))
        await self._send({"toolCall": {"functionCalls": [{"id": call_id, "name": step.name, "args": step.args}]}})
        if blocking:
            await call.answered.wait()

    def cancel_pending(self) -> list[str]:
        """Forget every unanswered call (barge-in) and return their ids for toolCallCancellation."""
        ids = list(self.pending)
        for call in self.pending.values():
            call.answered.set()
        self.pending.clear()
        return ids


def _pieces(text: str, words_per_piece: int = 5) -> list[str]:
    """Split text into chunks like a streaming model emits; joined, they give the text back exactly."""
    words = text.split(" ")
    pieces = [" ".join(words[i : i + words_per_piece]) for i in range(0, len(words), words_per_piece)]
    return [piece if index == len(pieces) - 1 else piece + " " for index, piece in enumerate(pieces)]
