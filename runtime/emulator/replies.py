"""One model turn on the wire: text parts or real-time audio chunks, tool calls, transcripts, usage."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from runtime.emulator.config import SessionConfig
from runtime.emulator.scenario import CallTool, RunCode, Say, SayToolResult, Search, Step
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
        self._output = config.info.output
        self._together = self._output.parts_per_message == "several"
        """Several parts and fields per server message (models.yaml <model>.output.parts_per_message)."""
        self.pending: dict[str, PendingCall] = {}
        self._response_tokens = 0
        self._prompt_tokens = (0, 0)
        self._prompt_video = 0

    async def play(self, steps: tuple[Step, ...]) -> None:
        """Send the turn's content, then generationComplete and turnComplete with usage."""
        self._response_tokens = 0
        self._prompt_tokens = self._conversation.modality_tokens()
        self._prompt_video = self._conversation.video_tokens()
        if self._output.usage_before_first_turn:
            # models.yaml <model>.output.usage_before_first_turn: gemini-3.1-flash-live-preview sends a serverContent
            # with nothing but usageMetadata before the first modelTurn (livekit/agents#5238: a client that took it
            # for the turn dropped the first reply's audio). Sent before every reply here: nothing says it is not.
            await self._send({"serverContent": {}, "usageMetadata": self._usage()})
        ended = False
        for index, step in enumerate(steps):
            last = index == len(steps) - 1
            if isinstance(step, Say):
                ended = await self._say(step.text, last)
            elif isinstance(step, CallTool):
                await self._call(step)
            elif isinstance(step, SayToolResult):
                ended = await self._say(result_text(self._conversation.tool_results.get(step.name)), last)
            elif isinstance(step, Search | RunCode):
                await self._builtin(step)
        if not ended:
            await self._end_turn()

    async def _end_turn(self) -> None:
        if self._together:
            end = {"generationComplete": True, "turnComplete": True}
            await self._send({"serverContent": end, "usageMetadata": self._usage()})
            return
        await self._send({"serverContent": {"generationComplete": True}})
        await self._send(self.turn_end())

    def turn_end(self) -> dict[str, Any]:
        """The latest turn's turnComplete, with its usage: the prompt as the turn found it, the response that
        reached the client (an interrupted turn counts only what was sent before the interruption)."""
        return {"serverContent": {"turnComplete": True}, "usageMetadata": self._usage()}

    def _usage(self, unsent_response_tokens: int = 0) -> dict[str, Any]:
        prompt_text, prompt_audio = self._prompt_tokens
        # models.yaml <model>.output.prompt_token_overhead: the promptTokenCount of a one-word first turn is a few
        # hundred tokens above the visible input (pydantic/pydantic-ai#7269, googleapis/python-genai#1917).
        prompt_text += self._output.prompt_token_overhead
        prompt = prompt_text + prompt_audio + self._prompt_video
        response = self._response_tokens + unsent_response_tokens
        details = [
            {"modality": modality, "tokenCount": count}
            for modality, count in (("TEXT", prompt_text), ("AUDIO", prompt_audio), ("VIDEO", self._prompt_video))
            if count
        ]
        return {
            "promptTokenCount": prompt,
            "responseTokenCount": response,
            "totalTokenCount": prompt + response,
            "promptTokensDetails": details,
            "responseTokensDetails": [
                {"modality": "AUDIO" if self._config.audio_out else "TEXT", "tokenCount": response}
            ],
        }

    async def _say(self, text: str, last: bool) -> bool:
        """Say `text`; True when its last message also ended the turn (several fields in one message)."""
        if not self._config.audio_out:
            for piece in _pieces(text):
                await self._send({"serverContent": {"modelTurn": {"role": "model", "parts": [{"text": piece}]}}})
            self._conversation.history.append(Turn("model", text, text_tokens=text_tokens(text)))
            self._response_tokens += text_tokens(text)
            return False
        sent = [0]
        try:
            return await self._speak(text, sent, end_turn=last and self._together)
        finally:
            # Like the service, an interrupted turn keeps only what already reached the client.
            spoken_chars = round(len(text) * sent[0] / max(len(synthesize(text)), 1))
            tokens = audio_tokens(sent[0], OUTPUT_RATE_HZ)
            self._conversation.history.append(Turn("model", text[:spoken_chars], audio_tokens=tokens))
            self._response_tokens += tokens

    async def _speak(self, text: str, sent: list[int], *, end_turn: bool) -> bool:
        """Stream synthesized speech at real-time pace (counting bytes in `sent`), transcript pieces as their
        characters start; with `end_turn`, the last chunk also carries the turn's end and usage."""
        pcm = synthesize(text)
        chunk_bytes = int(OUTPUT_RATE_HZ * self._chunk_s) * 2
        pieces = _transcript_pieces(text, self._output.output_transcription) if self._config.transcribe_output else []
        started = anyio.current_time()
        said_chars, bytes_per_char = 0, max(1, len(pcm) // max(len(text), 1))
        for index, offset in enumerate(range(0, len(pcm), chunk_bytes)):
            await anyio.sleep_until(started + index * self._chunk_s)
            due: list[str] = []
            while pieces and said_chars * bytes_per_char <= offset + chunk_bytes:
                due.append(pieces.pop(0))
                said_chars += len(due[-1])
            chunk = pcm[offset : offset + chunk_bytes]
            content: dict[str, Any] = {"modelTurn": {"role": "model", "parts": [
                {"inlineData": {"mimeType": OUTPUT_MIME, "data": encode_bytes(chunk)}}
            ]}}
            message = {"serverContent": content}
            if not self._together:
                for piece in due:  # models.yaml <model>.output.parts_per_message: one field a message on 2.5
                    await self._send({"serverContent": {"outputTranscription": {"text": piece}}})
            elif due:
                # models.yaml <model>.output.parts_per_message: "a single server event can contain multiple content
                # parts simultaneously" on 3.1 (Google's migration notes, hkjarral/AVA-AI-Voice-Agent-for-Asterisk#350).
                content["outputTranscription"] = {"text": "".join(due)}
            if end_turn and offset + chunk_bytes >= len(pcm):
                content.update(generationComplete=True, turnComplete=True)
                message["usageMetadata"] = self._usage(audio_tokens(sent[0] + len(chunk), OUTPUT_RATE_HZ))
            await self._send(message)
            sent[0] += len(chunk)
        return end_turn and bool(pcm)

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

    async def _builtin(self, step: Search | RunCode) -> None:
        """A built-in tool at work, as the service shows it: grounding metadata for a search, the code and its
        result as parts of the model's turn. Only when the setup declared the tool (else skipped, like a call of
        an undeclared function)."""
        name = "google_search" if isinstance(step, Search) else "code_execution"
        if name not in self._config.builtin_tools:
            self._undeclared(name)
            return
        if isinstance(step, Search):
            chunks = [{"web": {"title": title, "uri": uri}} for title, uri in step.sources]
            grounding = {"webSearchQueries": [step.query], "groundingChunks": chunks}
            await self._send({"serverContent": {"groundingMetadata": grounding}})
            return
        outcome = "OUTCOME_OK" if step.ok else "OUTCOME_FAILED"
        parts = [{"executableCode": {"language": "PYTHON", "code": step.code}},
                 {"codeExecutionResult": {"outcome": outcome, "output": step.output}}]
        await self._send({"serverContent": {"modelTurn": {"role": "model", "parts": parts}}})

    def take_response(self, response: dict[str, Any]) -> PendingCall | None:
        """A functionResponse into the context; its call, answered unless `willContinue` keeps it open."""
        call = self.pending.get(str(response.get("id", "")))
        if call is None:
            return None
        result = response.get("response", {})
        self._conversation.tool_results[call.name] = result
        words = json.dumps(result)
        self._conversation.history.append(Turn("tool", words, text_tokens=text_tokens(words)))
        if not response.get("willContinue"):
            self.pending.pop(str(response["id"]), None)
            call.answered.set()
        return call

    def cancel_pending(self) -> list[str]:
        """Forget every unanswered call (barge-in) and return their ids for toolCallCancellation."""
        ids = list(self.pending)
        for call in self.pending.values():
            call.answered.set()
        self.pending.clear()
        return ids


def _transcript_pieces(text: str, kind: str) -> list[str]:
    """Output transcription as the model streams it. models.yaml <model>.output.output_transcription `sub_word`:
    pieces of about three characters that split words (" Ca", "n I", " pl", "eas" in google-gemini/cookbook#951);
    joined, they give the text back exactly, so a client must join them without adding spaces."""
    if kind == "sub_word":
        return [text[index : index + 3] for index in range(0, len(text), 3)]
    return _pieces(text, words_per_piece=1)


def _pieces(text: str, words_per_piece: int = 5) -> list[str]:
    """Split text into chunks like a streaming model emits; joined, they give the text back exactly."""
    words = text.split(" ")
    pieces = [" ".join(words[i : i + words_per_piece]) for i in range(0, len(words), words_per_piece)]
    return [piece if index == len(pieces) - 1 else piece + " " for index, piece in enumerate(pieces)]
