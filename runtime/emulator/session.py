"""One WebSocket connection of the Live protocol: setup, user input, model turns, faults.

The model's rules are applied by `rules.py` (setup and client messages) and `replies.py` (message shapes); the
timed events of a connection (goAway, limits, scheduled faults) are planned by `timers.py`.
"""

from __future__ import annotations

import json
import logging
import time
from functools import partial
from typing import Any

import anyio
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from runtime.emulator.config import SessionConfig, merge_setup, read_setup
from runtime.emulator.context import compress, conversation_for, enforce_context
from runtime.emulator.front import Admission
from runtime.emulator.hub import Hub
from runtime.emulator.options import Fault
from runtime.emulator.replies import Replier
from runtime.emulator.rules import InputRules, SetupUnanswered
from runtime.emulator.scenario import SayToolResult, Step
from runtime.emulator.state import Conversation, Turn, text_tokens
from runtime.emulator.timers import SESSION_LIMIT, faults_for, run_timers
from runtime.emulator.turns import UserInput, pcm_rate_hz
from runtime.emulator.video import read_frame
from runtime.emulator.wire import (
    INTERNAL_ERROR,
    INVALID_ARGUMENT,
    POLICY_VIOLATION,
    ProtocolViolation,
    clip_reason,
    dump_server_message,
    normalize,
)

logger = logging.getLogger(__name__)

UNSUPPORTED = "Operation is not implemented, or supported, or enabled."


class LiveSession:
    """Serves one connection; the conversation it works on may outlive it (resumption)."""

    def __init__(self, ws: ServerConnection, hub: Hub, number: int, admission: Admission) -> None:
        self._ws = ws
        self._hub = hub
        self._number = number
        self._admission = admission
        self._opened = time.monotonic()
        self._silent_until = 0.0
        self._tg: anyio.abc.TaskGroup | None = None
        self._replies: set[anyio.CancelScope] = set()
        self._turn_lock = anyio.Lock()
        self._generating = False
        self._late_turn_end: dict[str, Any] | None = None
        """An interrupted turn's turnComplete held back by the `late_turn_complete` fault."""
        self._video_seen = False
        """A camera frame arrived on this connection: the audio+video session limit applies."""
        self._image_answered = False
        """The scenario's image rule answered a frame since the user's last turn."""
        self._closing = False
        """Our close frame is out: the receive loop only records what still arrives, until the socket ends."""

    async def run(self) -> None:
        conversation: Conversation | None = None
        try:
            conversation, config = await self._open()
            self._config, self._conversation = config, conversation
            self._replier = Replier(
                self._send_reply_message, config, conversation, self._hub.options.audio_chunk_ms,
                self._hub.undeclared_call,
            )
            self._input = UserInput(config, conversation, self._hub)
            self._rules = InputRules(config.info, config.initial_history)
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(partial(
                    run_timers, self, self._hub.options, self._number, opened=self._opened,
                    session_started=conversation.started, compressed=config.compression is not None,
                ))
                if not config.manual_activity:
                    tg.start_soon(self._end_speech_when_audio_stops)
                await self._receive_loop()
                tg.cancel_scope.cancel()
        except ProtocolViolation as violation:
            await self.close(violation.code, violation.reason)
        except ConnectionClosed:
            pass
        finally:
            if conversation is not None and conversation.open_conn == self._number:
                conversation.open_conn, conversation.ended_at = None, time.monotonic()
            # Tracebacks of cancelled tasks keep this object in reference cycles until a full GC, which is
            # rare; dropping our references frees the connection and its buffers now (flat memory in soaks).
            self.__dict__.clear()

    async def _open(self) -> tuple[Conversation, SessionConfig]:
        """Read `setup` (which must come first), admit or refuse it, answer setupComplete."""
        payload = self._load(await self._ws.recv())
        if not isinstance(payload, dict) or "setup" not in payload:
            raise ProtocolViolation(INVALID_ARGUMENT, "The first message must be a setup message.")
        setup = normalize(payload["setup"], "BidiGenerateContentSetup", "setup")
        if len(payload) != 1:
            raise ProtocolViolation(INVALID_ARGUMENT, "Invalid JSON payload received. Only one message kind allowed.")
        for fault in self._faults("reject_setup"):
            raise ProtocolViolation(fault.code, fault.reason or UNSUPPORTED)
        if self._faults("stall_setup"):  # an overloaded front end: the socket stays open, nothing answers
            await self._ws.wait_closed()
            raise ConnectionClosed(None, None)
        if self._admission.refusal:
            raise ProtocolViolation(POLICY_VIOLATION, self._admission.refusal)
        if self._admission.token is not None:
            setup = merge_setup(setup, self._admission.token.setup, self._admission.token.field_mask)
        options = self._hub.options
        try:
            config = read_setup(setup, version=self._admission.version, window_override=options.context_window_tokens,
                                accept_any_model=options.accept_any_model)
        except SetupUnanswered:  # as the service: no setupComplete, no close, until the client gives up
            await self._ws.wait_closed()
            raise ConnectionClosed(None, None) from None
        conversation = conversation_for(self._hub, config)
        conversation.open_conn, conversation.ended_at = self._number, None
        system = setup.get("systemInstruction", {}).get("parts", [])
        if system and not conversation.history:
            words = " ".join(str(part.get("text", "")) for part in system)
            conversation.history.append(Turn("system", words, text_tokens=text_tokens(words)))
        await self.send({"setupComplete": {}})
        if config.resumption:
            await self._send_handle(conversation, resumable=True)
        logger.info("connection %d: session set up for %s", self._number, config.model)
        return conversation, config

    def _load(self, raw: str | bytes) -> Any:
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise ProtocolViolation(INVALID_ARGUMENT, f"Invalid JSON payload received. {error}") from None
        self._hub.traffic.client_message(self._number, payload)
        return payload

    async def _receive_loop(self) -> None:
        try:
            async for raw in self._ws:
                payload = self._load(raw)
                if self._closing:
                    continue
                message = normalize(payload, "BidiGenerateContentClientMessage", "")
                if len(message) != 1:
                    raise ProtocolViolation(INVALID_ARGUMENT, "Exactly one message kind must be set.")
                await self._dispatch(message)
        except ProtocolViolation as violation:
            await self.close(violation.code, violation.reason)
        except ConnectionClosed:
            pass

    async def _dispatch(self, message: dict[str, Any]) -> None:
        match message:
            case {"setup": _}:
                raise ProtocolViolation(INVALID_ARGUMENT, "setup must be the first and only setup message.")
            case {"clientContent": content}:
                self._rules.client_content()
                await self._on_client_content(content)
            case {"realtimeInput": realtime}:
                self._rules.realtime_input(realtime)
                await self._on_realtime_input(realtime)
            case {"toolResponse": response}:
                await self._on_tool_response(response.get("functionResponses", []))

    async def _on_client_content(self, content: dict[str, Any]) -> None:
        user_words = self._input.add_turns(content.get("turns", []))
        self._enforce_context()
        if content.get("turnComplete"):
            await self._interrupt(cancel_calls=True)
            self._start_reply(self._hub.scenario.reply(user_words, spoken=False))

    async def _on_realtime_input(self, realtime: dict[str, Any]) -> None:
        blobs = [realtime["audio"]] if "audio" in realtime else []
        # The deprecated `mediaChunks` also carries video frames: only its audio is audio.
        chunks = realtime.get("mediaChunks", [])
        blobs += [chunk for chunk in chunks if str(chunk.get("mimeType")).startswith("audio/")]
        frames = [realtime["video"]] if "video" in realtime else []
        for frame in frames + [chunk for chunk in chunks if str(chunk.get("mimeType")).startswith("image/")]:
            await self._on_video(frame)
        for blob in blobs:
            rate_hz = pcm_rate_hz(blob.get("mimeType"))
            await self._on_speech_events(self._input.audio(str(blob.get("data", "")), rate_hz))
        if "text" in realtime:
            await self._interrupt(cancel_calls=True)
            self._input.add_text(realtime["text"])
            self._enforce_context()
            self._start_reply(self._hub.scenario.reply(realtime["text"], spoken=False))
        for key in ("activityStart", "activityEnd"):
            if key in realtime:
                await self._on_speech_events(self._input.activity(key))
        if realtime.get("audioStreamEnd"):
            await self._on_speech_events(self._input.stream_ended())

    async def _on_video(self, blob: dict[str, Any]) -> None:
        """A camera frame: priced and recorded (runtime/emulator/video.py); the 2-minute audio+video limit
        without compression counts from the session's start, so a first frame past it ends the session."""
        frame = read_frame(blob, conn=self._number, started=self._hub.traffic.started, tokens=self._config.frame_tokens)
        self._hub.traffic.frame(frame)
        self._video_seen = True
        lasted_s = time.monotonic() - self._conversation.started
        if self._config.compression is None and lasted_s >= self._hub.options.video_session_limit_s:
            raise ProtocolViolation(INTERNAL_ERROR, SESSION_LIMIT)
        self._conversation.history.append(Turn("user", "", video_tokens=frame.tokens))
        self._enforce_context()
        steps = self._hub.scenario.on_image()
        if steps and not self._image_answered:
            self._image_answered = True
            await self._interrupt(cancel_calls=True)
            self._start_reply(steps)

    async def _on_speech_events(self, events: list[str]) -> None:
        for event in events:
            if event == "started" and self._config.interrupts:
                await self._interrupt(cancel_calls=True)
            elif event == "ended":
                self._image_answered = False
                transcript = self._input.finish_speech_turn()
                self._enforce_context()
                if self._config.transcribe_input and transcript:
                    await self.send({"serverContent": {"inputTranscription": {"text": transcript}}})
                self._start_reply(self._hub.scenario.reply(transcript, spoken=True))

    async def _end_speech_when_audio_stops(self) -> None:
        """A client that stops sending mid-speech (a whole file in one message, a paused microphone) gets its
        turn ended after the silence duration, as if that silence had arrived."""
        silence_s = self._config.vad.silence_duration_ms / 1000
        while True:
            await anyio.sleep(max(0.05, silence_s / 2))
            if self._input.speaking and time.monotonic() - self._input.last_audio_at >= silence_s:
                await self._on_speech_events(self._input.stream_ended())

    async def _on_tool_response(self, responses: list[dict[str, Any]]) -> None:
        for response in responses:
            call = self._replier.take_response(response)
            if call is None:
                logger.info("connection %d: response for unknown call %s ignored", self._number, response.get("id"))
                continue
            if call.blocking:
                continue
            scheduling = response.get("scheduling", "WHEN_IDLE")
            if scheduling == "INTERRUPT":
                await self._interrupt(cancel_calls=False)
            if scheduling in ("INTERRUPT", "WHEN_IDLE", "SCHEDULING_UNSPECIFIED"):
                self._start_reply((SayToolResult(call.name),))
        self._enforce_context()

    def _start_reply(self, steps: tuple[Step, ...]) -> None:
        assert self._tg is not None
        self._tg.start_soon(self._reply, steps)

    async def _reply(self, steps: tuple[Step, ...]) -> None:
        with anyio.CancelScope() as scope:
            self._replies.add(scope)
            try:
                async with self._turn_lock:
                    self._generating = True
                    self._rules.model_turn_started()
                    if self._config.resumption:
                        await self.send({"sessionResumptionUpdate": {"resumable": False}})
                    try:
                        await self._replier.play(steps)
                    finally:
                        self._generating = False
                    self._compress()
                    if self._config.resumption:
                        await self._send_handle(self._conversation, resumable=True)
            except ProtocolViolation as violation:
                await self.close(violation.code, violation.reason)
            finally:
                self._replies.discard(scope)

    async def _interrupt(self, cancel_calls: bool) -> None:
        """Barge-in: stop the model's turn, tell the client, cancel calls still waiting for results, and end
        the interrupted turn with its turnComplete before anything of the next one.

        The service ends an interrupted turn with `interrupted`, then `turnComplete` carrying the turn's
        `usageMetadata`, and no `generationComplete`: google-genai 3.3.0 types.LiveServerContent documents
        generation_complete as "When model is interrupted while generating there will be no generation_complete
        message in interrupted turn, it will go through interrupted > turn_complete"; a trace of the service in
        googleapis/python-genai#1224 shows `interrupted=True` alone, then `turn_complete=True` with
        `usage_metadata`; Google's quickstart (google-gemini/cookbook quickstarts/Get_started_LiveAPI.py): "If you
        interrupt the model, it sends a turn_complete." Clients are written for it: langwatch/scenario#907 keeps
        discarding the old turn's residue "until the old turn's turnComplete arrives", AidenAI-IO/aiden-firmware#644
        waits for "interrupted -> turnComplete", Pipecat's GeminiLiveLLMService ends its response on turn_complete
        and warns when usage_metadata is missing from it, and LiveKit's google realtime plugin stops a generation
        interrupted before it started on "interrupted -> turn_complete". A turn that was waiting on a blocking call
        is interrupted like any other: its calls get a toolCallCancellation ("occurs only in cases where the clients
        interrupt server turns", the v1beta BidiGenerateContentToolCallCancellation), sent before the turnComplete
        that closes the turn.
        """
        was_generating = self._generating
        for scope in list(self._replies):
            scope.cancel()
        self._generating = False
        # Under the turn lock: the cancelled reply has unwound (its usage counts only what reached the client)
        # and no next reply can send before the interrupted turn is closed.
        async with self._turn_lock:
            if was_generating:
                await self.send({"serverContent": {"interrupted": True}})
            ids = self._replier.cancel_pending() if cancel_calls else []
            if ids:
                await self.send({"toolCallCancellation": {"ids": ids}})
            if not was_generating:
                return
            if self._faults("late_turn_complete"):
                self._late_turn_end = self._replier.turn_end()
            else:
                await self._end_turn(self._replier.turn_end())

    async def _end_turn(self, turn_complete: dict[str, Any]) -> None:
        """A turn boundary: the turnComplete, then (with resumption) a fresh handle."""
        await self.send(turn_complete)
        if self._config.resumption:
            await self._send_handle(self._conversation, resumable=True)

    async def _send_reply_message(self, message: dict[str, Any]) -> None:
        """What the replier sends; the `late_turn_complete` fault lets the interrupted turn's turnComplete
        follow the next reply's first message instead of preceding it."""
        await self.send(message)
        late, self._late_turn_end = self._late_turn_end, None
        if late is not None:
            await self._end_turn(late)

    def _compress(self) -> None:
        compress(self._conversation, self._config, self._number)

    def _enforce_context(self) -> None:
        enforce_context(self._conversation, self._config, self._number)

    async def _send_handle(self, conversation: Conversation, resumable: bool) -> None:
        # No lastConsumedClientMessageIndex: the published v1beta SessionResumptionUpdate has no such field.
        update = {"newHandle": self._hub.sessions.issue(conversation), "resumable": resumable}
        await self.send({"sessionResumptionUpdate": update})

    async def send(self, message: dict[str, Any]) -> None:
        if self._silent_until > time.monotonic():
            await anyio.sleep(self._silent_until - time.monotonic())
        try:
            with anyio.CancelScope(shield=True):
                await self._ws.send(dump_server_message(message))
                self._hub.traffic.server_message(self._number, message)
        except ConnectionClosed:
            if self._tg is None:
                raise
            if not self._closing:
                self._tg.cancel_scope.cancel()
            await anyio.lowlevel.checkpoint()

    @property
    def audio_session(self) -> bool:
        return self._config.audio_out or self._input.heard_audio

    @property
    def video_session(self) -> bool:
        return self._video_seen

    async def inject(self, fault: Fault) -> None:
        if not self._hub.claim(fault):  # a `once` fault that already fired on another connection
            return
        logger.info("connection %d: injecting fault %s", self._number, fault.action)
        if fault.action == "close":
            await self.close(fault.code, fault.reason or "Internal error encountered.")
        elif fault.action == "drop":
            self._ws.transport.abort()
            self._cancel()
        elif fault.action == "delay":
            self._silent_until = time.monotonic() + fault.seconds
        elif fault.action == "garbage":
            with anyio.CancelScope(shield=True):
                await self._ws.send(b"{not json")

    def _faults(self, *actions: str) -> list[Fault]:
        """The faults of these kinds that fire on this connection now (a `once` fault is used up by this)."""
        return [f for f in faults_for(self._hub.options, self._number, *actions) if self._hub.claim(f)]

    async def close(self, code: int, reason: str) -> None:
        # Frames the client sent before it saw our close frame still reach us (TCP delivers them ahead of the
        # client's own close frame): the receive loop keeps recording them until the socket ends, so the
        # record shows every frame that arrived, as the service's input would.
        self._closing = True
        with anyio.CancelScope(shield=True):
            await self._ws.close(code, clip_reason(reason))
        logger.info("connection %d: closed with %d %s", self._number, code, reason)
        # The receive loop ends by itself once the last frame is read; `run` then ends the other tasks.

    def _cancel(self) -> None:
        if self._tg is not None:
            self._tg.cancel_scope.cancel()
