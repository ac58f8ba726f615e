"""`WakeGate`: a microphone that says nothing until it is addressed.

It wraps the real `AudioIn` and is an `AudioIn` itself, so a session reads it like any microphone and
never learns about wake words. While listening, every block goes only to the local detector and a short
pre-roll ring, and `read()` keeps waiting: nothing can reach the network. On a detection it plays the
start earcon, returns the pre-roll, then returns live blocks until `idle_timeout_s` of audio passes with
neither user speech (a local energy VAD) nor model speech (`AudioOut.playing`); then it plays the end
earcon and listens again. Time is counted in audio frames read, so the timeout is exact to one block.

The detector hears every captured block, in conversation too: its state stays continuous (no stale
wake word waiting in its buffers when listening resumes, no re-priming cost), its refractory period
covers the wake word it just fired on, and saying the wake word again simply keeps the conversation open.

Pre-roll policy: it IS sent. The detector fires 100–300 ms after the wake word ends (microWakeWord averages
five 30 ms steps), so people who say "okay nabu what's the time" in one breath have already started the
request when the gate opens; dropping the pre-roll would clip it. The ~300 ms sent holds the tail of the
wake word and what follows it — audio the user addressed to the agent — and costs ~8 audio tokens.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from pathlib import Path

import anyio

from runtime.agentfile.spec import AgentSpec
from runtime.audio.ports import MIC_RATE_HZ, SAMPLE_BYTES, AudioIn, AudioOut, ready_frames
from runtime.errors import Location
from runtime.wake.detector import Detection, WakeDetector, load_detector
from runtime.wake.earcons import load_earcon
from runtime.wake.floor import ConversationFloor
from runtime.wake.frontend import shared_features_for
from runtime.wake.lifecycle import (
    ConversationEvent,
    ConversationListener,
    ConversationState,
    EnergyVad,
    IdleTimer,
    block_dbfs,
)
from runtime.wake.mute import MutedAudioIn, MuteSwitch

log = logging.getLogger(__name__)

DEFAULT_PREROLL_MS = 300
NAP_BLOCKS = 10
"""While listening in a silent room (the detector's pre-gate is skipping), the gate reads what the
microphone holds, then sleeps this many blocks' time (at most half the microphone's buffer: 200 ms at
least, 2 s by default, see `nap_blocks_for`): the blocks wait there and are read in one burst, with no
drift (each burst reads all that is there). Waking the event loop for every 20 ms block costs about 0.8 %
of a core on its own on this project's 2-core VM (a bare 50 Hz timer loop, 1.03 % measured again); an idle
daemon reading every 100 ms took 0.45-0.5 %, every 200 ms 0.35 % (`python -m bench.idle`, 2026-12-07, quiet
machine). Sound ends the skipping, and with it the naps, within one burst; the audio itself is the same,
read later, and the wake word is heard at the same point of the audio (its detector runs on every block)."""


def nap_blocks_for(buffer_ms: int, block_ms: int) -> int:
    """`NAP_BLOCKS`, or fewer when the microphone's buffer is short: a nap never outlasts half of it."""
    return max(1, min(NAP_BLOCKS, buffer_ms // (2 * max(1, block_ms))))


class Earcons:
    """Where and what to play on the lifecycle's edges (both sounds optional, 24 kHz int16)."""

    def __init__(self, speaker: AudioOut | None, start: bytes | None = None, end: bytes | None = None) -> None:
        self.speaker = speaker
        self.start = start
        self.end = end

    def play(self, pcm: bytes | None) -> None:
        if self.speaker is None or not pcm:
            return
        self.speaker.write(pcm)
        self.speaker.end_of_turn()

    @property
    def model_speaking(self) -> bool:
        return self.speaker is not None and self.speaker.playing


class WakeGate:
    """An `AudioIn` that returns microphone audio only inside a conversation opened by the wake word."""

    def __init__(
        self,
        mic: AudioIn,
        detector: WakeDetector,
        *,
        idle_timeout_s: float = 20.0,
        earcons: Earcons | None = None,
        mute: MuteSwitch | None = None,
        preroll_ms: int = DEFAULT_PREROLL_MS,
        vad: EnergyVad | None = None,
        agent: str = "agent",
        nap_blocks: int = NAP_BLOCKS,
    ) -> None:
        self.block_frames = mic.block_frames
        self.agent = agent
        self._mute = mute or MuteSwitch()
        self._mic = MutedAudioIn(mic, self._mute, self._mute_changed)
        self._detector = detector
        self._earcons = earcons or Earcons(None)
        self._vad = vad or EnergyVad()
        self._idle = IdleTimer(idle_timeout_s)
        preroll_blocks = max(1, math.ceil(preroll_ms * MIC_RATE_HZ / 1000 / mic.block_frames))
        self._preroll: deque[bytes] = deque(maxlen=preroll_blocks)
        self._pending: deque[bytes] = deque()
        self._listeners: list[ConversationListener] = []
        self._frames_read = 0
        self._floor: ConversationFloor | None = None
        self._exclusive = True
        self._state = self._resting_state()
        self._nap_s = max(0, nap_blocks) * mic.block_frames / MIC_RATE_HZ
        self.naps = 0
        """How many times the gate slept between bursts of reads (for tests and measurements)."""

    @property
    def state(self) -> ConversationState:
        return self._state

    @property
    def now_s(self) -> float:
        """Audio time: seconds of microphone audio read so far (muted time does not count)."""
        return self._frames_read / MIC_RATE_HZ

    def status_text(self) -> str:
        """A short phrase for sd_notify `STATUS=`: `muted`, `listening for okay_nabu`, `in conversation`."""
        if self._state is ConversationState.LISTENING:
            return f"listening for {self._detector.model}"
        return "in conversation" if self._state is ConversationState.CONVERSATION else "muted"

    def add_listener(self, listener: ConversationListener) -> None:
        """Be told of every transition (see `ConversationListener`)."""
        self._listeners.append(listener)

    def join_floor(self, floor: ConversationFloor, exclusive: bool) -> None:
        """Share a microphone with other agents' gates: `exclusive` keeps them from waking in a conversation."""
        self._floor = floor
        self._exclusive = exclusive

    def keep_awake(self) -> None:
        """Something is still going on that the microphone cannot hear (a tool call, a text reply)."""
        self._idle.restart(self.now_s)

    def end_conversation(self, reason: str = "ended") -> None:
        """Stop streaming now (the agent said goodbye) and listen for the wake word again."""
        if self._state is ConversationState.CONVERSATION:
            self._enter(ConversationState.LISTENING, reason)
            self._earcons.play(self._earcons.end)

    async def open(self) -> None:
        """Start capturing and listening; a gate reopened after `close()` starts afresh, listening."""
        if self._state is not self._resting_state():
            self._enter(self._resting_state(), "reopened")
        self._pending.clear()
        self._preroll.clear()
        self._detector.reset()
        await self._mic.open()

    async def close(self) -> None:
        """Stop capturing; the detector is kept, so the gate can be opened again (a restarted session)."""
        if self._floor is not None:
            self._floor.leave(self.agent)
        await self._mic.close()

    async def read(self) -> bytes:
        while True:
            if self._pending:
                return self._pending.popleft()
            await self._nap_if_silent()
            block = await self._mic.read()
            self._frames_read += len(block) // SAMPLE_BYTES
            level = block_dbfs(block)  # measured once for the detector's pre-gate and the VAD
            detections = self._detector.process(block, level)
            speech = self._vad.is_speech(block, level)
            if self._state is ConversationState.LISTENING:
                self._preroll.append(block)
                if detections and self._may_wake():
                    self._wake(detections[-1])
            elif self._still_talking(speech or bool(detections)):
                return block
            else:
                self.end_conversation("idle")

    async def _nap_if_silent(self) -> None:
        """In a silent room, read what the microphone holds, then sleep (see `NAP_BLOCKS`)."""
        if not self._nap_s or self._state is not ConversationState.LISTENING or not self._detector_sleeping():
            return
        ready = ready_frames(self._mic)
        if ready is None or ready >= self.block_frames:  # a microphone that cannot tell is read block by block
            return
        self.naps += 1
        await anyio.sleep(self._nap_s)

    def _detector_sleeping(self) -> bool:
        pregate = getattr(self._detector, "pregate", None)
        return bool(getattr(pregate, "skipping", False))

    def _resting_state(self) -> ConversationState:
        return ConversationState.MUTED if self._mute.muted else ConversationState.LISTENING

    def _may_wake(self) -> bool:
        blocker = None if self._floor is None else self._floor.blocker(self.agent)
        if blocker is not None:
            log.info("%s: wake word ignored, %s is in an exclusive conversation on this mic", self.agent, blocker)
        return blocker is None

    def _wake(self, detection: Detection) -> None:
        self._pending.extend(self._preroll)
        self._preroll.clear()
        self._idle.restart(self.now_s)
        self._enter(ConversationState.CONVERSATION, "wake", detection.score)
        self._earcons.play(self._earcons.start)

    def _still_talking(self, user_speaking: bool) -> bool:
        if user_speaking or self._earcons.model_speaking:
            self._idle.restart(self.now_s)
            return True
        return not self._idle.expired(self.now_s)

    def _mute_changed(self, muted: bool) -> None:
        if muted:
            self._enter(ConversationState.MUTED, "muted")
        else:
            self._enter(ConversationState.LISTENING, "unmuted")

    def _enter(self, state: ConversationState, reason: str, score: float = 0.0) -> None:
        if state is not ConversationState.CONVERSATION:
            self._pending.clear()
            self._preroll.clear()
        if reason == "unmuted":
            self._detector.reset()  # its last audio is from before the mute: do not join the two
        self._state = state
        if self._floor is not None:
            if state is ConversationState.CONVERSATION:
                self._floor.enter(self.agent, self._exclusive)
            else:
                self._floor.leave(self.agent)
        event = ConversationEvent(state, self.now_s, reason, score)
        log.info("%s: %s at %.2f s of audio (%s)", self.agent, state.value, event.at_s, reason)
        for listener in self._listeners:
            listener(event)


def wake_gate_for(
    spec: AgentSpec,
    mic: AudioIn,
    speaker: AudioOut | None,
    mute: MuteSwitch,
    agent_file: Path,
    agent: str = "agent",
) -> WakeGate:
    """The gate an agent file in `wake_word` mode asks for (model, threshold, timeout, earcons)."""
    where = Location(str(agent_file))
    conversation = spec.conversation
    earcons = Earcons(
        speaker,
        load_earcon(conversation.start_earcon, "start", agent_file.parent, where),
        load_earcon(conversation.end_earcon, "end", agent_file.parent, where),
    )
    detector = load_detector(spec.activity.wake, where, agent_file.parent, shared_features_for(mic))
    naps = nap_blocks_for(spec.audio.input.buffer_ms, spec.audio.input.block_ms)
    return WakeGate(mic, detector, idle_timeout_s=conversation.idle_timeout_s, earcons=earcons, mute=mute, agent=agent,
                    nap_blocks=naps)
