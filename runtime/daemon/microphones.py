"""Every microphone of the daemon behind the privacy layer: one mute switch for all of them, and a wake
gate in front of each `wake_word` agent's microphone.

The session never learns about either: it reads an `AudioIn` that returns nothing while muted or while
nobody said the wake word. What the daemon adds here is the glue: `audioStreamEnd` when a conversation
ends (so the model's voice detection closes the last turn at once), the mute controls (SIGUSR1 and the
agents' buttons), and the state of the microphones for `STATUS=`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import anyio
import anyio.abc

from runtime.audio.ports import AudioIn, AudioOut
from runtime.audio.pushtotalk import TalkButton, talk_button
from runtime.daemon.agentdir import LoadedAgentLike
from runtime.daemon.console import FanOut
from runtime.daemon.daemon import Daemon
from runtime.daemon.supervisor import Runnable
from runtime.errors import DeviceError
from runtime.live.events import NullEvents, SessionEvents, ToolOutcome
from runtime.live.uplink import Message
from runtime.spec import AgentSpec
from runtime.wake.button import parse_button, toggle_on_button
from runtime.wake.gate import WakeGate, wake_gate_for
from runtime.wake.lifecycle import ConversationEvent, ConversationListener, ConversationState
from runtime.wake.mute import MutedAudioIn, MuteSwitch, toggle_on_signal

if TYPE_CHECKING:
    from google.genai.live import AsyncSession

    from runtime.live.session import AgentSession

log = logging.getLogger(__name__)

GateBuilder = Callable[[AgentSpec, AudioIn, AudioOut | None, MuteSwitch, Path, str], WakeGate]
"""`wake_gate_for`'s signature: tests give a gate with a deterministic detector behind the same interface."""


class Microphones:
    """Wraps each agent's microphone as its file asks, and knows what every wake gate is doing."""

    def __init__(self, mute: MuteSwitch | None = None, build_gate: GateBuilder = wake_gate_for) -> None:
        self.mute = mute or MuteSwitch()
        self._build_gate = build_gate
        self._gates: dict[str, WakeGate] = {}
        self.on_change: Callable[[], None] = lambda: None
        """Called when a gate changes state (the daemon refreshes `STATUS=`)."""

    def wrap(self, agent: LoadedAgentLike, mic: AudioIn, speaker: AudioOut) -> AudioIn:
        """The microphone the session reads: a wake gate (`wake_word` mode) or the mic behind the mute.

        The gate gets the session's own speaker: its start/end earcons play there, and the model speaking
        on it keeps the conversation open.
        """
        if agent.spec.activity.mode != "wake_word":
            self._gates.pop(agent.name, None)
            return MutedAudioIn(mic, self.mute)
        gate = self._build_gate(agent.spec, mic, speaker, self.mute, agent.path.resolve(), agent.name)
        gate.add_listener(self._gate_changed)
        self._gates[agent.name] = gate
        return gate

    def events(self, audio_in: AudioIn, events: SessionEvents) -> SessionEvents:
        """The session's events; for a gated microphone, also what keeps its conversation open: a transcript
        or a tool result means the exchange goes on even while nobody is audible (a slow tool, a text reply)."""
        if not isinstance(audio_in, WakeGate):
            return events
        return FanOut(events, KeepAwake(audio_in))

    def attach(self, audio_in: AudioIn, session: AgentSession) -> Runnable:
        """Tie a gate to the session that reads it: each conversation's end becomes an `audioStreamEnd`.
        A push-to-talk agent's session runs with its button.

        (The watchdog needs nothing here: a session counts as stalled only while the service owes it an
        answer, so a wake-word agent listening between conversations never is.)"""
        if session.spec.activity.mode == "push_to_talk":
            talk = session.spec.activity.push_to_talk
            return TalkingSession(session, talk_button(talk.key, talk.input))
        if isinstance(audio_in, WakeGate):
            audio_in.add_listener(stream_end_on_leave(session))
        return session

    def gate(self, agent: str) -> WakeGate | None:
        return self._gates.get(agent)

    def status_parts(self, agents: Collection[str]) -> list[str]:
        """`kitchen: listening for okay_nabu` for each running wake-word agent, or `mic muted` for all."""
        if self.mute.muted:
            return [self.mute.status_text()]
        return [f"{name}: {gate.status_text()}" for name, gate in sorted(self._gates.items()) if name in agents]

    def _gate_changed(self, event: ConversationEvent) -> None:
        self.on_change()


class KeepAwake(NullEvents):
    """Session events that restart a wake gate's idle countdown."""

    def __init__(self, gate: WakeGate) -> None:
        self.gate = gate

    def transcript(self, agent: str, role: Literal["user", "model"], text: str) -> None:
        self.gate.keep_awake()

    def text(self, agent: str, text: str) -> None:
        self.gate.keep_awake()

    def tool_call(self, agent: str, outcome: ToolOutcome) -> None:
        self.gate.keep_awake()


class TalkingSession:
    """A push-to-talk agent's session with its button: each press and release marks the user's turn
    (`activityStart`/`activityEnd`); nothing is sent in between turns. A button that cannot be read is a
    missing device: the supervisor reports it and waits for it."""

    def __init__(self, session: AgentSession, button: TalkButton) -> None:
        self.session = session
        self._button = button

    @property
    def last_progress(self) -> float:
        return self.session.last_progress

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(self._follow_button)
            await self.session.run(task_status=task_status)
            group.cancel_scope.cancel()

    async def _follow_button(self) -> None:
        async for talking in self._button.states():
            log.info("talking" if talking else "done talking", extra={"agent": self.session.name})
            self.session.set_talking(talking)


def stream_end_on_leave(session: AgentSession) -> ConversationListener:
    """A gate listener that sends `audioStreamEnd` whenever the gate leaves a conversation (idle timeout,
    mute, or the session ended it), in order after the conversation's last microphone block."""
    in_conversation = False

    def listener(event: ConversationEvent) -> None:
        nonlocal in_conversation
        if event.state is ConversationState.CONVERSATION:
            in_conversation = True
        elif in_conversation:
            in_conversation = False
            session.uplink.push_mark(Message("audio_stream_end", _send_stream_end))
            log.debug("audioStreamEnd queued (%s)", event.reason, extra={"agent": session.name})

    return listener


async def _send_stream_end(live: AsyncSession) -> None:
    await live.send_realtime_input(audio_stream_end=True)


def mute_buttons(specs: Iterable[AgentSpec]) -> list[str]:
    """Every `audio.input.mute_button` named in the agent files (each is read once, whoever names it)."""
    return list(dict.fromkeys(spec.audio.input.mute_button for spec in specs if spec.audio.input.mute_button))


class MuteControls:
    """Everything that flips the mute: SIGUSR1, and the buttons the running agents name, kept in step with
    reloads (a button added to an agent file is read from then on, one no agent names any more is let go).

    A button that cannot be opened is logged and skipped (tried again at the next reload); SIGUSR1 still works.
    """

    def __init__(self, mute: MuteSwitch) -> None:
        self.mute = mute
        self._group: anyio.abc.TaskGroup | None = None
        self._buttons: dict[str, anyio.CancelScope] = {}

    @property
    def buttons(self) -> list[str]:
        """The buttons being read now."""
        return list(self._buttons)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as group:
            self._group = group
            await group.start(toggle_on_signal, self.mute)
            task_status.started()
            await anyio.sleep_forever()

    def use(self, buttons: Iterable[str]) -> None:
        """Read exactly these buttons (`evdev:DEVICE:KEY`); call from the event loop."""
        assert self._group is not None, "MuteControls.run first"
        wanted = list(dict.fromkeys(buttons))
        for text in [t for t in self._buttons if t not in wanted]:
            log.info("mute button %s is no longer named by any agent", text)
            self._buttons.pop(text).cancel()
        for text in [t for t in wanted if t not in self._buttons]:
            scope = self._buttons[text] = anyio.CancelScope()
            self._group.start_soon(self._read, text, scope)

    async def _read(self, text: str, scope: anyio.CancelScope) -> None:
        with scope:
            try:
                await toggle_on_button(self.mute, parse_button(text))
            except (DeviceError, ValueError) as exc:
                log.error("mute button %s is not available: %s", text, exc)
        if self._buttons.get(text) is scope:
            del self._buttons[text]  # gone or never there: the next reload tries again


async def run_with_mute_controls(daemon: Daemon, microphones: Microphones, controls: MuteControls) -> None:
    """Run the daemon while SIGUSR1 and the agents' mute buttons toggle the mute; `STATUS=` follows the
    switch and every wake gate. SIGUSR1 is handled before the agents start: it never kills the daemon."""
    microphones.on_change = daemon.refresh_status
    unsubscribe = microphones.mute.subscribe(lambda _muted: daemon.refresh_status())
    try:
        async with anyio.create_task_group() as group:
            await group.start(controls.run)
            await daemon.run()
            group.cancel_scope.cancel()
    finally:
        unsubscribe()
        microphones.on_change = lambda: None
