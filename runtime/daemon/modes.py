"""Activity modes as strategies: how each agent's session hears its user, one class per `activity.mode`.

A mode builds the three things that differ between modes (the way wyoming-satellite has one satellite class
per streaming mode): the microphone the session reads, the session events it needs, and what the supervisor
runs. `MODES` picks the class once per session start; nothing else in the daemon asks which mode an agent
is in. Every microphone ends up behind the daemon's one mute switch, directly or inside a wake gate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol

import anyio
import anyio.abc

from runtime.agentfile.spec import AgentSpec
from runtime.audio.ports import AudioIn, AudioOut
from runtime.audio.pushtotalk import TalkButton, talk_button
from runtime.audio.shared import CaptureTap
from runtime.daemon.agentdir import LoadedAgentLike
from runtime.daemon.console import FanOut
from runtime.daemon.events import GateBuilt, GateChanged, Publish, publish_nowhere
from runtime.live.events import NullEvents, SessionEvents, ToolOutcome
from runtime.wake.floor import ConversationFloors
from runtime.wake.mute import MutedAudioIn, MuteSwitch

if TYPE_CHECKING:
    from google.genai.live import AsyncSession

    from runtime.daemon.supervisor import Runnable
    from runtime.live.session import AgentSession
    from runtime.video.feed import VideoFeed
    from runtime.wake.gate import WakeGate
    from runtime.wake.lifecycle import ConversationEvent, ConversationListener

# The wake-word modules (numpy, a detector backend) and the uplink are imported where they are used: the
# registry is also imported by `runtime validate`, which should not pay for them on agents without a wake word.

log = logging.getLogger(__name__)

GateBuilder = Callable[[AgentSpec, AudioIn, AudioOut | None, MuteSwitch, Path, str], "WakeGate"]
"""`wake_gate_for`'s signature: tests give a gate with a deterministic detector behind the same interface."""


def wake_gate(
    spec: AgentSpec, mic: AudioIn, speaker: AudioOut | None, mute: MuteSwitch, agent_file: Path, agent: str
) -> WakeGate:
    """The gate the agent file asks for (`runtime.wake.gate.wake_gate_for`)."""
    from runtime.wake.gate import wake_gate_for

    return wake_gate_for(spec, mic, speaker, mute, agent_file, agent)


@dataclass(frozen=True)
class ModeTools:
    """What the modes of all agents share: the daemon's mute switch, where to publish, how to build a gate,
    and who is in conversation on each shared microphone."""

    mute: MuteSwitch
    publish: Publish = publish_nowhere
    build_gate: GateBuilder = wake_gate
    floors: ConversationFloors = field(default_factory=ConversationFloors)


class ActivityMode(Protocol):
    """One agent's activity mode, built for one start of its session."""

    def microphone(self, mic: AudioIn, speaker: AudioOut) -> AudioIn:
        """The microphone the session reads, around the device's `mic`; `speaker` is the session's own."""
        ...

    def events(self, events: SessionEvents) -> SessionEvents:
        """The session's events: `events`, and whatever the mode must hear of them."""
        ...

    def runnable(self, session: AgentSession) -> Runnable:
        """What the supervisor runs: the session, or the session with what drives it."""
        ...


class ServerMode:
    """`server`: the service's voice activity detection finds the turns; every block goes out (unless muted)."""

    answers_plain_speech: ClassVar[bool] = True
    """A request spoken into the microphone is answered as it is: no wake word, no button, no turn marked
    by the client first (what `runtime run --demo` needs)."""

    def __init__(self, agent: LoadedAgentLike, tools: ModeTools) -> None:
        self.agent = agent
        self.tools = tools

    @staticmethod
    def check(spec: AgentSpec, path: Path) -> None:
        """Load-time checks beyond the schema (none for this mode)."""

    def microphone(self, mic: AudioIn, speaker: AudioOut) -> AudioIn:
        return MutedAudioIn(mic, self.tools.mute)

    def events(self, events: SessionEvents) -> SessionEvents:
        return events

    def runnable(self, session: AgentSession) -> Runnable:
        return session


class ManualMode(ServerMode):
    """`manual`: the client marks each turn (`AgentSession.set_talking`); the microphone is `server`'s."""

    answers_plain_speech = False


class PushToTalkMode(ServerMode):
    """`push_to_talk`: the session runs with its button, whose presses and releases mark the turns."""

    answers_plain_speech = False

    def runnable(self, session: AgentSession) -> Runnable:
        talk = self.agent.spec.activity.push_to_talk
        return TalkingSession(session, talk_button(talk.key, talk.input))


class WakeWordMode:
    """`wake_word`: a local wake gate in front of the microphone; nothing goes out before the wake word.

    The gate plays its earcons on the session's own speaker (the model speaking there keeps the
    conversation open), is kept open by what the session reports, and each conversation's end becomes an
    `audioStreamEnd`. Its state goes on the daemon's event channel.
    """

    answers_plain_speech: ClassVar[bool] = False

    def __init__(self, agent: LoadedAgentLike, tools: ModeTools) -> None:
        self.agent = agent
        self.tools = tools
        self.gate: WakeGate | None = None

    @staticmethod
    def check(spec: AgentSpec, path: Path) -> None:
        """The wake-word model and the earcons must load: a file that names a missing one is invalid."""
        from runtime.wake.check import check_wake

        check_wake(spec, path)

    def microphone(self, mic: AudioIn, speaker: AudioOut) -> AudioIn:
        name = self.agent.name
        gate = self.tools.build_gate(self.agent.spec, mic, speaker, self.tools.mute, self.agent.path.resolve(), name)
        gate.add_listener(lambda _event: self.tools.publish(GateChanged(name, gate.status_text())))
        key = shared_device_key(mic)
        if key is not None:
            gate.join_floor(self.tools.floors.floor(key), self.agent.spec.conversation.exclusive)
        self.tools.publish(GateBuilt(name, gate.status_text()))
        self.gate = gate
        return gate

    def events(self, events: SessionEvents) -> SessionEvents:
        """Also what keeps the conversation open: a transcript or a tool result means the exchange goes on
        even while nobody is audible (a slow tool, a text reply)."""
        return FanOut(events, KeepAwake(self._gate()))

    def runnable(self, session: AgentSession) -> Runnable:
        """The session, its gate's conversations ending in `audioStreamEnd`. (The watchdog needs nothing: a
        session counts as stalled only while the service owes it an answer, never between conversations.)"""
        self._gate().add_listener(stream_end_on_leave(session))
        if session.video is not None and session.spec.video.frames_when("wake_word") == "conversation":
            self._gate().add_listener(camera_with_conversation(session.video))
        return session

    def _gate(self) -> WakeGate:
        assert self.gate is not None, "WakeWordMode.microphone first"
        return self.gate


def shared_device_key(mic: AudioIn) -> str | None:
    """The device key of a microphone shared through the daemon's hub (`runtime.audio.shared`), else None."""
    return mic.device.key if isinstance(mic, CaptureTap) else None


class ModeClass(Protocol):
    """A mode's class, as the registry holds it."""

    answers_plain_speech: bool

    def __call__(self, agent: LoadedAgentLike, tools: ModeTools) -> ActivityMode: ...

    def check(self, spec: AgentSpec, path: Path) -> None: ...


ModeName = Literal["server", "manual", "push_to_talk", "wake_word"]

MODES: dict[ModeName, ModeClass] = {
    "server": ServerMode,
    "manual": ManualMode,
    "push_to_talk": PushToTalkMode,
    "wake_word": WakeWordMode,
}
"""The registry: the one place that maps `activity.mode` to what it does."""


def mode_of(spec: AgentSpec) -> ModeClass:
    return MODES[spec.activity.mode]


def check_activity(spec: AgentSpec, path: Path) -> None:
    """The mode's load-time check (`RuntimeConfigError` at `path`), shared by `runtime validate` and the
    daemon's reader: a file whose mode cannot work is invalid rather than a session failing at every start."""
    mode_of(spec).check(spec, path)


class ActivityModes:
    """Builds each agent's activity mode for a start of its session, all sharing one `ModeTools`."""

    def __init__(self, tools: ModeTools | None = None) -> None:
        self.tools = tools or ModeTools(MuteSwitch())

    def for_agent(self, agent: LoadedAgentLike) -> ActivityMode:
        return mode_of(agent.spec)(agent, self.tools)


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
            log.info("talking" if talking else "done talking")
            self.session.set_talking(talking)


def stream_end_on_leave(session: AgentSession) -> ConversationListener:
    """A gate listener that sends `audioStreamEnd` whenever the gate leaves a conversation (idle timeout,
    mute, or the session ended it), in order after the conversation's last microphone block."""
    from runtime.live.uplink import Message
    from runtime.wake.lifecycle import ConversationState

    in_conversation = False

    def listener(event: ConversationEvent) -> None:
        nonlocal in_conversation
        if event.state is ConversationState.CONVERSATION:
            in_conversation = True
        elif in_conversation:
            in_conversation = False
            session.uplink.push_mark(Message("audio_stream_end", _send_stream_end))
            log.debug("audioStreamEnd queued (%s)", event.reason)

    return listener


def camera_with_conversation(video: VideoFeed) -> ConversationListener:
    """A gate listener that opens the camera when a conversation opens and closes it when it ends (`video.when:
    conversation`): the camera's LED is lit only while the agent is listening to someone."""
    from runtime.wake.lifecycle import ConversationState

    def listener(event: ConversationEvent) -> None:
        video.want(event.state is ConversationState.CONVERSATION)

    return listener


async def _send_stream_end(live: AsyncSession) -> None:
    await live.send_realtime_input(audio_stream_end=True)
