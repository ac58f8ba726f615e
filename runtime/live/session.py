"""`AgentSession`: one agent's Live conversation, kept alive across goAway, drops and daemon restarts.

One anyio task group owns the microphone capture, the running tools and the connection loop; each
connection (`connection.py`) owns its sender, its receiver and its goAway handover, and calls the session
back only through its `ConnectionHandler` methods. When to reconnect or give up is `runtime.retry`'s
decision. Nothing outlives `run`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from runtime.agentfile import catalogue
from runtime.agentfile.spec import AgentSpec
from runtime.agentlog import working_for
from runtime.audio.ports import AudioIn, AudioOut
from runtime.errors import AgentRuntimeError, FatalSessionError, SessionError
from runtime.live.connection import Connection, ConnectionEnd, Timeouts
from runtime.live.downlink import Downlink
from runtime.live.endpoint import Endpoint
from runtime.live.events import NullEvents, SessionEvents, SessionState
from runtime.live.mcp_link import mcp_toolset, redeclare_on_change
from runtime.live.resume import HandleStore
from runtime.live.sdk import check_sdk
from runtime.live.uplink import Frame, Message, Uplink, is_voice
from runtime.live.video_link import FrameSender, video_feed
from runtime.retry import Next, Reconnect, Reconnects, Recovery, RetryPolicy

if TYPE_CHECKING:
    from google.genai import types
    from google.genai.live import AsyncSession

    from runtime.agentfile.resolved_tools import ResolvedTool
    from runtime.live.tools import ToolRunner

logger = logging.getLogger(__name__)

QUIET_MARGIN_MS = 300
"""Quiet needed beyond the server's end-of-speech silence before a handover (milliseconds)."""


@dataclass
class SessionStats:
    """What a test, the bench or the status line reads."""

    connections: int = 0
    handovers: list[float] = field(default_factory=list)
    """Seconds from deciding to hand over to the new connection's setupComplete."""
    reconnects: int = 0
    malformed_audio_parts: int = 0
    """Audio parts the server sent that could not be decoded (dropped; runtime/live/receive.py)."""


class AgentSession:
    """One agent: microphone → Live → speaker and tools, until cancelled."""

    def __init__(
        self,
        spec: AgentSpec,
        *,
        name: str,
        base_dir: Path,
        endpoint: Endpoint,
        audio_in: AudioIn,
        audio_out: AudioOut,
        state_dir: Path,
        events: SessionEvents | None = None,
        policy: RetryPolicy | None = None,
        tools: Sequence[ResolvedTool] | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.spec = spec
        self._resolved_tools = tools
        """The tools as the loader resolved them; None: resolve `spec.tools` from `base_dir` (off the loop)."""
        self.name = name
        self.base_dir = base_dir
        self.endpoint = endpoint
        self.audio_in = audio_in
        self.audio_out = audio_out
        self.events: SessionEvents = events or NullEvents()
        self.policy = policy or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self.store = HandleStore(state_dir, name)
        block_ms = max(1, audio_in.block_frames * 1000 // 16_000)
        self.uplink = Uplink(spec.audio.input.buffer_ms // block_ms)
        self.model = catalogue.lookup(spec.model)
        """The model's catalogue entry (None if unknown): how it replies, what its tool declarations mean."""
        plan = self.model.reply_plan(spec.response) if self.model else None
        self.downlink = Downlink(name, audio_out, self.events, text_from_speech=bool(plan and plan.discard_audio))
        self.stats = SessionStats()
        self._last_received = time.monotonic()
        self._handle: str | None = None
        self._saved_handle: str | None = None
        self._save_lock = anyio.Lock()
        self._handle_resumable = False
        self._tools: ToolRunner | None = None
        self._tool_scopes: dict[str, anyio.CancelScope] = {}
        self._group: anyio.abc.TaskGroup | None = None
        self._talking = not self._client_marks_activity()
        self._handover_started: float | None = None
        self._last_voice_at = 0.0
        self._on_first_ready: anyio.abc.TaskStatus[None] | None = None
        self.video = video_feed(spec, base_dir)
        """The camera (None without `video.source`); the activity mode turns it on with a conversation."""

    # -- public -----------------------------------------------------------------------------------

    @property
    def last_progress(self) -> float:
        """For the daemon's watchdog: the session counts as stalled only while the server owes an answer.

        A session nobody talks to hears nothing from the server for hours, and that is fine (a dead socket
        is found by the keepalive). Once speech, a typed turn or a tool result has been sent, the server
        must say something; the time since the later of that send and its last message is the stall.
        """
        owed_since = self.uplink.owed_since
        if owed_since is None:
            return time.monotonic()
        return max(self._last_received, owed_since)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; `task_status.started()` after the first setupComplete. What the session and
        its tasks log carries the agent's name (`runtime.agentlog`)."""
        with working_for(self.name):
            await self._run(task_status)

    async def _run(self, task_status: anyio.abc.TaskStatus[None]) -> None:
        await anyio.to_thread.run_sync(_import_sdk)
        from runtime.agentfile.resolved_tools import resolve_tools
        from runtime.live.tools import ToolRunner

        tools = self._resolved_tools
        if tools is None:  # importing user code blocks: never on the event loop
            functions = [tool for _, tool in self.spec.functions()]
            tools = await anyio.to_thread.run_sync(resolve_tools, functions, self.base_dir)
        mcp = mcp_toolset(self.spec, self.base_dir, self.name, [tool.name for tool in tools])
        self._tools = ToolRunner(tools, later=mcp)
        if self.spec.session.resumption:
            self._handle = self.store.load()
        await self.audio_in.open()
        try:
            await self.audio_out.open()
            try:
                async with anyio.create_task_group() as group:
                    self._group = group
                    connection = Connection(self.endpoint, self.uplink, self, counter=self.stats,
                                            timeouts=self.timeouts, agent=self.name)
                    if mcp is not None:  # its servers start with the agent and stop with it
                        await group.start(mcp.run)
                        group.start_soon(redeclare_on_change, mcp, connection)
                    group.start_soon(self._capture)
                    if self.video is not None:
                        group.start_soon(self.video.run, FrameSender(self.uplink))
                    await self._connections(connection, task_status)
            except BaseExceptionGroup as errors:
                raise _first_runtime_error(errors) from None
            finally:
                with anyio.CancelScope(shield=True):
                    await self.audio_out.close()
        finally:
            with anyio.CancelScope(shield=True):
                await self.audio_in.close()

    async def send_text(self, text: str) -> None:
        """A typed user turn (`runtime chat`, demos), as `realtimeInput.text` on every model (docs/sessions.md)."""

        async def send(live: AsyncSession) -> None:
            await live.send_realtime_input(text=text)

        self.uplink.push_message(Message("text", send, expects_reply=True))

    def set_talking(self, talking: bool) -> None:
        """Manual activity and push-to-talk: the user started or stopped talking."""
        if not self._client_marks_activity() or talking == self._talking:
            return
        self._talking = talking
        if self.video is not None and self.spec.video.frames_when(self.spec.activity.mode) == "conversation":
            self.video.want(talking)
        from google.genai import types

        async def send(live: AsyncSession) -> None:
            if talking:
                await live.send_realtime_input(activity_start=types.ActivityStart())
            else:
                await live.send_realtime_input(activity_end=types.ActivityEnd())

        self.uplink.push_mark(Message("activity_start" if talking else "activity_end", send))

    # -- microphone -------------------------------------------------------------------------------

    def _client_marks_activity(self) -> bool:
        return self.spec.activity.mode in ("manual", "push_to_talk")

    async def _capture(self) -> None:
        """Read the microphone continuously, connected or not, into the bounded uplink buffer."""
        while True:
            pcm = await self.audio_in.read()
            voice = is_voice(pcm)
            if voice:
                self._last_voice_at = time.monotonic()
            if self._talking:
                self.uplink.push_frame(Frame(pcm, time.monotonic(), voice))

    # -- connections ------------------------------------------------------------------------------

    async def _connections(self, connection: Connection, task_status: anyio.abc.TaskStatus[None]) -> None:
        self._on_first_ready = task_status
        reconnects = Reconnects(self.policy)
        while True:
            self.events.state(self.name, SessionState.CONNECTING, "resuming" if self.resuming else "new session")
            end = await connection.run(self.spec.model, self.live_config(), resuming=self.resuming)
            step = reconnects.after(end.recovery, ready=end.ready, lasted_s=end.lasted_s, jitter=random.random())
            if step.next is Next.GIVE_UP_FATAL:
                raise FatalSessionError(f"{self.name}: {end.summary()} (gave up after {step.tries} tries)")
            if step.next is Next.GIVE_UP:
                raise SessionError(f"{self.name}: cannot connect ({end.summary()}) after {step.tries} tries")
            self._report_reconnect(end, step)
            if step.delay_s > 0:
                await anyio.sleep(step.delay_s)

    def _report_reconnect(self, end: ConnectionEnd, step: Reconnect) -> None:
        """Count and log an unplanned reconnect; forget a handle the service no longer knows."""
        if end.recovery is Recovery.HANDOVER:
            return
        self.stats.reconnects += 1
        if end.recovery is Recovery.FATAL:
            logger.error("%s; retrying in %.1f s", end.summary(), step.delay_s)
            self.events.state(self.name, SessionState.ERROR, end.summary())
            return
        if end.recovery is Recovery.FRESH:
            logger.warning("the stored session is gone (%s); starting a new conversation", end.reason)
            self._forget_handle()
        logger.warning("connection ended (%s); reconnecting in %.2f s", end.summary(), step.delay_s)
        self.events.state(self.name, SessionState.RECONNECTING, end.summary())

    def live_config(self) -> types.LiveConnectConfig:
        from runtime.live.config import live_config

        assert self._tools is not None
        handle = self._handle if self.spec.session.resumption else None
        return live_config(self.spec, model=self.model, handle=handle, tools=self._tools.resolved)

    @property
    def resuming(self) -> bool:
        return bool(self._handle and self.spec.session.resumption)

    # -- the connection's handler (runtime.live.connection.ConnectionHandler) --------------------------------

    def connection_ready(self) -> None:
        self.stats.connections += 1
        self._last_received = time.monotonic()
        self.downlink.new_connection()
        if self.resuming:
            self._handle_resumable = True
        if self._handover_started is not None:
            self.stats.handovers.append(self._last_received - self._handover_started)
            self._handover_started = None
        logger.info("connected (%s)", "resumed" if self._handle else "new session")
        self.events.state(self.name, SessionState.READY)
        if self._on_first_ready is not None:
            first_ready, self._on_first_ready = self._on_first_ready, None
            first_ready.started()

    def on_audio(self, pcm: bytes) -> None:
        """A message that was nothing but the model's voice (the receive fast path)."""
        self._last_received = time.monotonic()
        self.uplink.owed_since = None
        self.downlink.audio(pcm)

    def on_message(self, message: types.LiveServerMessage) -> None:
        self._last_received = time.monotonic()
        self.uplink.owed_since = None
        if message.server_content is not None:
            self.downlink.content(message.server_content)
        self.downlink.usage(message)
        if message.tool_call is not None:
            for call in message.tool_call.function_calls or []:
                self._start_tool(call)
        if message.tool_call_cancellation is not None:
            self._cancel_tools(message.tool_call_cancellation.ids or [])
        if message.session_resumption_update is not None:
            self._on_resumption_update(message.session_resumption_update)

    def _on_resumption_update(self, update: types.LiveServerSessionResumptionUpdate) -> None:
        self._handle_resumable = bool(update.resumable and update.new_handle)
        if not (update.resumable and update.new_handle):
            return
        self._handle = update.new_handle
        if self._group is not None:
            self._group.start_soon(self._save_handle)

    def _idle(self) -> bool:
        return not self.downlink.in_turn and not self._tool_scopes

    def at_resumable_point(self) -> bool:
        """A good moment to switch connections: nobody is talking, no tool runs, the handle is current.

        "Nobody talking" includes the user: a handover in the middle of an utterance would split it across
        two connections (the old one never finishes it). The microphone must have been quiet for longer
        than the server needs to end a turn.
        """
        quiet_needed_s = ((self.spec.activity.silence_duration_ms or 500) + QUIET_MARGIN_MS) / 1000
        quiet = time.monotonic() - self._last_voice_at >= quiet_needed_s
        current = self._handle_resumable or not self.spec.session.resumption
        return self._idle() and current and quiet

    def handing_over(self, why: str) -> None:
        self.events.state(self.name, SessionState.HANDOVER, why)
        self._handover_started = time.monotonic()

    async def _save_handle(self) -> None:
        async with self._save_lock:
            handle = self._handle
            if handle is None or handle == self._saved_handle:
                return
            try:
                await anyio.to_thread.run_sync(self.store.save, handle)
                self._saved_handle = handle
            except OSError as exc:
                logger.warning("cannot store the resumption handle in %s: %s", self.store.path, exc)

    def _forget_handle(self) -> None:
        self._handle = None
        self._handle_resumable = False
        try:
            self.store.clear()
        except OSError as exc:
            logger.warning("cannot remove %s: %s", self.store.path, exc)

    # -- tools ------------------------------------------------------------------------------------

    def _start_tool(self, call: types.FunctionCall) -> None:
        if self._group is None or self._tools is None:
            return
        call_id = call.id or ""
        scope = anyio.CancelScope()
        self._tool_scopes[call_id] = scope
        self._group.start_soon(self._run_tool, scope, call_id, call.name or "", dict(call.args or {}))

    async def _run_tool(self, scope: anyio.CancelScope, call_id: str, name: str, args: dict[str, Any]) -> None:
        from google.genai import types

        from runtime.live.config import scheduling

        assert self._tools is not None
        with scope:
            try:
                outcome = await self._tools.call(name, call_id, args)
            finally:
                self._tool_scopes.pop(call_id, None)
        if scope.cancelled_caught:
            logger.info("tool %s (%s) cancelled by the model", name, call_id)
            self.events.state(self.name, SessionState.TOOL_CANCELLED, f"{name} ({call_id})")
            return
        tool = self._tools.tools.get(name)
        response = types.FunctionResponse(
            id=call_id or None, name=name, response=outcome.result,
            scheduling=scheduling(tool) if tool is not None else None,
        )

        async def send(live: AsyncSession) -> None:
            await live.send_tool_response(function_responses=[response])

        blocking = tool is None or tool.behavior == "blocking"
        self.uplink.push_message(Message("tool_response", send, expects_reply=blocking))
        self.events.tool_call(self.name, outcome)

    def _cancel_tools(self, ids: list[str]) -> None:
        for call_id in ids:
            scope = self._tool_scopes.get(call_id)
            if scope is not None:
                scope.cancel()


def _first_runtime_error(errors: BaseExceptionGroup[BaseException]) -> BaseException:
    """The task group's error as the caller expects it: a `SessionError` or `DeviceError`, not a group."""
    matched, _ = errors.split(AgentRuntimeError)
    if matched is None:
        return errors
    leaf: BaseException = matched
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    return leaf


def _import_sdk() -> None:
    """Import google-genai once, off the event loop (it takes most of a second), and check its internals."""
    check_sdk()
