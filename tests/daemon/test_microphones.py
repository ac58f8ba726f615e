"""The daemon's microphones in-process: the daemon's own `Daemon`, `SessionFactory` and activity modes, a real
`AgentSession` over the real SDK against the emulator, and a wake gate whose detector is the deterministic tone
detector of the wake tests (behind the same `WakeDetector` interface as the real models)."""

from __future__ import annotations

import base64
import functools
import logging
import os
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime.agentfile.loader import load_agent
from runtime.agentfile.spec import AgentSpec
from runtime.audio.evdev import INPUT_EVENT, KEY_CODES
from runtime.audio.ports import AudioIn, AudioOut
from runtime.daemon.agentdir import LoadedAgentLike, read_directory
from runtime.daemon.app import RunOptions, SessionFactory, directory_reader
from runtime.daemon.daemon import Daemon, DaemonSettings
from runtime.daemon.events import AgentState, AgentStateChanged, AgentStopped, DaemonEvent, EventChannel, MuteToggled
from runtime.daemon.modes import ActivityModes, ModeTools
from runtime.daemon.mute_controls import MuteControls, mute_buttons
from runtime.daemon.status import StatusBoard
from runtime.daemon.systemd import Notifier
from runtime.emulator import EmulatorOptions, serve
from runtime.live.endpoint import Endpoint
from runtime.live.events import NullEvents
from runtime.retry import RetryPolicy
from runtime.wake.gate import WakeGate
from runtime.wake.mute import MutedAudioIn, MuteSwitch
from tests.daemon.fakes import FakeSession
from tests.daemon.harness import MODEL, NotifySocket, make_agents
from tests.wake.gating import run_gate
from tests.wake.scenes import (
    BLOCK,
    RATE,
    ClockedSpeaker,
    PacedMic,
    Scene,
    WavMic,
    babble,
    tone,
    tone_detector,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

IDLE_TIMEOUT_S = 1.0
WATCHDOG_S = 1.5
"""Short, yet longer than the emulator takes to answer during the conversation (~0.2 s)."""

KITCHEN = f"""\
name: kitchen
model: {MODEL}
instructions: Be brief.
activity: {{mode: wake_word}}
conversation: {{idle_timeout_s: {IDLE_TIMEOUT_S}}}
supervision: {{watchdog_s: {WATCHDOG_S}}}
audio:
  input: {{device: 'file:silence.wav', mute_button: 'evdev:/dev/input/event7:KEY_MICMUTE'}}
  output: {{device: 'file:kitchen-out.wav'}}
"""


class ToneGates:
    """A `GateBuilder` like `wake_gate_for`, with the tone detector; remembers each gate and what it was given."""

    def __init__(self) -> None:
        self.speakers: dict[str, AudioOut | None] = {}
        self.gates: dict[str, WakeGate] = {}

    def __call__(
        self, spec: AgentSpec, mic: AudioIn, speaker: AudioOut | None, mute: MuteSwitch, path: Path, agent: str
    ) -> WakeGate:
        self.speakers[agent] = speaker
        gate = WakeGate(mic, tone_detector(), idle_timeout_s=spec.conversation.idle_timeout_s, mute=mute, agent=agent)
        self.gates[agent] = gate
        return gate


def notifications(notify: NotifySocket) -> list[dict[str, str]]:
    """Every notification sent so far (the test reads the socket only when the daemon has sent them)."""
    while notify.receive(0.05) is not None:
        pass
    return [message for _, _, message in notify.messages]


def statuses_after_ready(messages: list[dict[str, str]]) -> list[str]:
    """The `STATUS=` changes sent on their own after `READY=1`, up to `STOPPING=1`."""
    ready = next(i for i, message in enumerate(messages) if "READY" in message)
    return [message["STATUS"] for message in messages[ready + 1 :] if list(message) == ["STATUS"]]


def realtime_input(record: dict[str, Any]) -> dict[str, Any]:
    message = record["msg"] if isinstance(record["msg"], dict) else {}
    realtime: dict[str, Any] = message.get("realtimeInput") or message.get("realtime_input") or {}  # SDK: snake
    return realtime


def uplink(records: list[dict[str, Any]]) -> list[bytes | None]:
    """Audio blocks and `audioStreamEnd` (None) in the order the emulator received them."""
    sent: list[bytes | None] = []
    for record in list(records):
        realtime = realtime_input(record)
        if "audio" in realtime:
            sent.append(base64.urlsafe_b64decode(realtime["audio"]["data"]))
        elif realtime.get("audioStreamEnd") or realtime.get("audio_stream_end"):
            sent.append(None)
    return sent


async def test_a_wake_word_agent_in_the_daemon_streams_only_its_conversation(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    scene = Scene(12.0)
    scene.add(0.5, babble(1.5), "chatter")
    scene.add(2.5, tone(0.4), "wake")
    scene.add(3.1, babble(1.2, seed=2), "request")
    mic = PacedMic(scene.write(tmp_path / "mic.wav"))
    agents = make_agents(tmp_path / "agents", [])
    (agents / "kitchen.yaml").write_text(KITCHEN)
    speaker = ClockedSpeaker(mic)
    gates, notify = ToneGates(), NotifySocket(tmp_path)

    def ports(agent: LoadedAgentLike) -> tuple[AudioIn, AudioOut]:
        return mic, speaker

    async with serve(EmulatorOptions()) as emulator:
        endpoint = Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="test-key")
        channel = EventChannel()
        modes = ActivityModes(ModeTools(MuteSwitch(), channel.publish, gates))
        factory = SessionFactory(endpoint, tmp_path / "state", NullEvents(), ports=ports, modes=modes,
                                 retry=RetryPolicy(first_backoff_s=0.05, longest_backoff_s=0.2))
        read = functools.partial(read_directory, agents, load_agent)
        daemon = Daemon(agents, read, factory, Notifier(str(notify.path)), DaemonSettings(watch=False),
                        channel=channel)
        async with anyio.create_task_group() as group:
            await group.start(daemon.run)
            assert daemon.status() == "1 agent: 1 running; kitchen: listening for tone"
            await anyio.to_thread.run_sync(notifications, notify)  # the socket queues few datagrams: read these now
            gate = gates.gates["kitchen"]
            woke_at: list[float] = []
            gate.add_listener(lambda event: event.reason == "wake" and woke_at.append(time.monotonic()))
            with anyio.fail_after(30):
                await mic.exhausted.wait()
                while None not in uplink(emulator.records):
                    await anyio.sleep(0.02)  # the emulator has no event to wait on
            await anyio.sleep(2 * WATCHDOG_S)  # listening again, nobody talks: a window for the watchdog to err
            daemon.stop()
        sent = uplink(emulator.records)
        first_audio_at = next(r["mono"] for r in emulator.records if "audio" in realtime_input(r))
    statuses = statuses_after_ready(notifications(notify))
    notify.close()

    print(f"\nwake → first audio byte at the emulator: {(first_audio_at - woke_at[0]) * 1000:.1f} ms")
    assert gates.speakers["kitchen"] is speaker, "the earcons play on the session's own speaker"
    assert statuses == [f"1 agent: 1 running; kitchen: {what}" for what in ("in conversation", "listening for tone")]
    end = sent.index(None)
    assert None not in sent[end + 1 :] and all(block is not None for block in sent[:end])
    received = b"".join(block for block in sent[:end] if block is not None)
    pcm = scene.pcm()
    start = pcm.find(received[: BLOCK * 2])
    assert start >= 0 and pcm[start : start + len(received)] == received, "one contiguous stretch of the mic"
    start_s, end_s = start / 2 / RATE, (start + len(received)) / 2 / RATE
    print(f"\nthe service received {start_s:.2f}–{end_s:.2f} s of the mic, then audioStreamEnd")
    assert scene.marks["chatter_end"] <= start_s <= scene.marks["request"]
    # the emulator's transcripts of its reply keep the conversation open a little longer (`KeepAwake`)
    assert scene.marks["request_end"] + IDLE_TIMEOUT_S - 0.1 <= end_s < scene.seconds
    assert not [r for r in caplog.records if r.getMessage().startswith("watchdog: no progress")], (
        "a wake-word agent nobody talks to is not a stalled session"
    )


async def test_every_other_microphone_is_behind_the_mute(tmp_path: Path) -> None:
    agents = make_agents(tmp_path / "agents", ["desk"])
    (agents / "kitchen.yaml").write_text(KITCHEN)
    gates, published = ToneGates(), list[DaemonEvent]()
    modes = ActivityModes(ModeTools(MuteSwitch(), published.append, gates))
    desk, kitchen = load_agent(agents / "desk.yaml"), load_agent(agents / "kitchen.yaml")
    mic = WavMic(Scene(1.0).write(tmp_path / "mic.wav"))
    assert isinstance(modes.for_agent(desk).microphone(mic, ClockedSpeaker(mic)), MutedAudioIn)
    gate = modes.for_agent(kitchen).microphone(mic, ClockedSpeaker(mic))
    assert isinstance(gate, WakeGate) and gates.gates["kitchen"] is gate
    board = StatusBoard()
    for event in [AgentStateChanged("desk", AgentState.RUNNING), AgentStateChanged("kitchen", AgentState.RUNNING),
                  *published]:
        board.apply(event)
    assert board.text() == "2 agents: 2 running; kitchen: listening for tone"
    board.apply(MuteToggled(True))
    assert board.text() == "2 agents: 2 running; mic muted", "muted: no gate listens"
    board.apply(MuteToggled(False))
    board.apply(AgentStopped("kitchen"))
    assert board.text() == "1 agent: 1 running", "a stopped agent's gate is not reported"
    assert mute_buttons([desk.spec, kitchen.spec, kitchen.spec]) == ["evdev:/dev/input/event7:KEY_MICMUTE"]


async def test_a_transcript_or_a_text_reply_keeps_the_conversation_open(tmp_path: Path) -> None:
    """The model answers after a slow tool, nobody audible meanwhile: its events restart the idle countdown."""
    agents = make_agents(tmp_path / "agents", [])
    (agents / "kitchen.yaml").write_text(KITCHEN)
    scene = Scene(6.0)
    scene.add(0.5, tone(0.4), "wake")
    request_end = scene.add(1.1, babble(0.5), "request")
    mic = WavMic(scene.write(tmp_path / "mic.wav"))
    mode = ActivityModes(ModeTools(MuteSwitch(), build_gate=ToneGates())).for_agent(load_agent(agents / "kitchen.yaml"))
    gate = mode.microphone(mic, ClockedSpeaker(mic))
    assert isinstance(gate, WakeGate)
    events = mode.events(NullEvents())
    said_at = {2.2: lambda: events.text("kitchen", "Still looking."), 3.0: lambda: events.transcript(
        "kitchen", "model", "Found it.")}
    mic.on_block = lambda t: said_at.get(round(t, 3), lambda: None)()
    run = await run_gate(gate, scene)
    [(start, end)] = run.segments()
    print(f"\nstreamed {start:.2f}–{end:.2f} s; the request ended at {request_end:.2f} s, the last event at 3.00 s")
    assert abs(end - (3.0 + IDLE_TIMEOUT_S)) <= 2.5 * BLOCK / RATE, "the countdown restarted at the last event"


def desk_with_button(button: str) -> str:
    return (f"name: desk\nmodel: {MODEL}\naudio:\n  input: {{device: 'file:silence.wav', mute_button: '{button}'}}\n"
            "  output: {device: 'file:desk-out.wav'}\n")


async def test_mute_buttons_follow_the_agent_files_across_reloads(tmp_path: Path) -> None:
    agents = make_agents(tmp_path / "agents", [])
    first, second = tmp_path / "event1", tmp_path / "event2"
    os.mkfifo(first)
    os.mkfifo(second)
    (agents / "desk.yaml").write_text(desk_with_button(f"evdev:{first}:KEY_MICMUTE"))
    mute = MuteSwitch()
    flipped: list[bool] = []
    changed = anyio.Event()

    def on_change(muted: bool) -> None:
        nonlocal changed
        flipped.append(muted)
        changed.set()

    mute.subscribe(on_change)
    controls = MuteControls(mute)
    read = functools.partial(read_directory, agents, load_agent)
    daemon = Daemon(agents, read, lambda _agent: FakeSession(), Notifier(None), DaemonSettings(watch=False),
                    mute_controls=controls)
    press = INPUT_EVENT.pack(0, 0, 1, KEY_CODES["KEY_MICMUTE"], 1)
    async with anyio.create_task_group() as group:
        await group.start(daemon.run)
        assert controls.buttons == [f"evdev:{first}:KEY_MICMUTE"]
        device = await anyio.to_thread.run_sync(os.open, first, os.O_WRONLY)  # returns once the daemon reads it
        os.write(device, press)
        with anyio.fail_after(5):
            await changed.wait()
        changed = anyio.Event()

        (agents / "desk.yaml").write_text(desk_with_button(f"evdev:{second}:KEY_MICMUTE"))
        await daemon.reload("edited")
        assert controls.buttons == [f"evdev:{second}:KEY_MICMUTE"]
        with anyio.fail_after(5):
            while True:  # the old button's reader closes it as its task is cancelled
                try:
                    os.write(device, press)
                except BrokenPipeError:
                    break
                await anyio.sleep(0.01)
        os.close(device)
        device = await anyio.to_thread.run_sync(os.open, second, os.O_WRONLY)
        os.write(device, press)
        with anyio.fail_after(5):
            await changed.wait()
        os.close(device)

        (agents / "desk.yaml").write_text(desk_with_button(f"evdev:{tmp_path}/unplugged:KEY_MICMUTE"))
        await daemon.reload("edited")
        with anyio.fail_after(5):
            while controls.buttons:  # a button that cannot be opened is logged and dropped
                await anyio.sleep(0.01)
        daemon.stop()
        group.cancel_scope.cancel()
    assert flipped == [True, False], "the old button was let go: its presses after the reload did nothing"


def test_a_wake_word_file_whose_model_is_missing_is_invalid_not_a_failing_agent(tmp_path: Path) -> None:
    pytest.importorskip("pymicro_wakeword")
    agents = make_agents(tmp_path / "agents", ["desk"])
    (agents / "kitchen.yaml").write_text(KITCHEN.replace("activity: {mode: wake_word}",
                                                         "activity: {mode: wake_word, wake: {model: gone.tflite}}"))
    state = directory_reader(RunOptions(agents_dir=agents, state_dir=tmp_path / "state"))()
    assert list(state.configs) == ["desk"] and state.failed_paths == [agents / "kitchen.yaml"]
    [error] = state.errors
    assert "wake-word model file" in error.render() and "gone.tflite" in error.render()


async def test_a_push_to_talk_agent_sends_audio_only_while_its_button_is_held(tmp_path: Path) -> None:
    fifo = tmp_path / "event3"
    os.mkfifo(fifo)
    agents = make_agents(tmp_path / "agents", [])
    (agents / "desk.yaml").write_text(
        f"name: desk\nmodel: {MODEL}\n"
        f"activity: {{mode: push_to_talk, push_to_talk: {{input: 'evdev:{fifo}:KEY_F1'}}}}\n"
        "audio:\n  input: {device: 'file:silence.wav'}\n  output: {device: 'file:desk-out.wav'}\n"
    )
    scene = Scene(12.0)
    scene.add(0.0, babble(12.0), "talk")
    mic = PacedMic(scene.write(tmp_path / "mic.wav"))
    f1 = KEY_CODES["KEY_F1"]

    def records_of(emulator: Any, key: str) -> list[float]:
        return [r["mono"] for r in emulator.records if key in realtime_input(r)]

    async with serve(EmulatorOptions()) as emulator:
        endpoint = Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="test-key")
        speaker = ClockedSpeaker(mic)
        factory = SessionFactory(endpoint, tmp_path / "state", NullEvents(), ports=lambda _agent: (mic, speaker))
        read = functools.partial(read_directory, agents, load_agent)
        daemon = Daemon(agents, read, factory, Notifier(None), DaemonSettings(watch=False))
        async with anyio.create_task_group() as group:
            await group.start(daemon.run)
            device = await anyio.to_thread.run_sync(os.open, fifo, os.O_WRONLY)  # once the button is read
            assert not records_of(emulator, "audio"), "nothing before the button is pressed"
            os.write(device, INPUT_EVENT.pack(0, 0, 1, f1, 1))
            with anyio.fail_after(10):
                while len(records_of(emulator, "audio")) < 10:
                    await anyio.sleep(0.02)  # the emulator has no event to wait on
            os.write(device, INPUT_EVENT.pack(0, 0, 1, f1, 0))
            with anyio.fail_after(10):
                await mic.exhausted.wait()
                while not records_of(emulator, "activity_end") and not records_of(emulator, "activityEnd"):
                    await anyio.sleep(0.02)
            os.close(device)
            daemon.stop()
        start = (records_of(emulator, "activity_start") + records_of(emulator, "activityStart"))[0]
        end = (records_of(emulator, "activity_end") + records_of(emulator, "activityEnd"))[0]
        audio = records_of(emulator, "audio")
    print(f"\n{len(audio)} blocks sent while the button was held; the file had {len(scene.pcm()) // (BLOCK * 2)}")
    assert audio and all(start < at < end for at in audio), "audio only between activityStart and activityEnd"
