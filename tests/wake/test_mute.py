"""The privacy switch: muted means the microphone is closed and nothing is returned, whoever flips it."""

from __future__ import annotations

import os
import signal
import struct
import threading
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from runtime.audio.evdev import INPUT_EVENT, KEY_CODES
from runtime.errors import DeviceError
from runtime.wake.button import Button, parse_button, toggle_on_button
from runtime.wake.gate import WakeGate
from runtime.wake.lifecycle import ConversationEvent, ConversationState
from runtime.wake.mute import MutedAudioIn, MuteSwitch, toggle_on_signal
from tests.wake.gating import GateRun, block_starts
from tests.wake.scenes import EndOfAudio, Scene, WavMic, babble, tone, tone_detector

pytestmark = pytest.mark.anyio

MUTED, LISTENING, CONVERSATION = ConversationState.MUTED, ConversationState.LISTENING, ConversationState.CONVERSATION


def conversation_scene() -> Scene:
    scene = Scene(10.0)
    scene.add(1.0, tone(0.4), "wake")
    scene.add(1.6, babble(3.0), "request")  # muted at 3.0, in the middle of it
    scene.add(6.0, tone(0.4), "wake_again")
    return scene


async def test_muting_mid_conversation_closes_the_mic_and_returns_nothing_until_woken_again(tmp_path: Path) -> None:
    scene, mute = conversation_scene(), MuteSwitch()
    mic = WavMic(scene.write(tmp_path / "mic.wav"), on_block=lambda t: t >= 3.0 and mute.set(True, "test"))
    gate = WakeGate(mic, tone_detector(), idle_timeout_s=10.0, mute=mute)
    run, muted = GateRun(), anyio.Event()

    def on_event(event: ConversationEvent) -> None:
        run.events.append((event, len(run.starts_s)))
        if event.state is MUTED:
            muted.set()

    gate.add_listener(on_event)
    where = block_starts(scene)

    async def session_uplink() -> None:
        await gate.open()
        try:
            while True:
                run.starts_s.append(where[await gate.read()])
        except EndOfAudio:
            pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(session_uplink)
        await muted.wait()
        assert not mic.is_open and mic.closes == 1 and gate.status_text() == "muted"
        returned_while_muted = len(run.starts_s)
        mic.on_block = None
        await anyio.to_thread.run_sync(mute.set, False, "another thread")

    states = [(event.state, event.reason) for event, _ in run.events]
    assert states == [(CONVERSATION, "wake"), (MUTED, "muted"), (LISTENING, "unmuted"), (CONVERSATION, "wake")]
    first, second = run.segments()
    assert first[1] < 3.0 + 1e-6, "the block captured as the switch flipped was dropped"
    assert second[0] >= scene.marks["wake_again"] - 0.35, "after unmuting it waits for the wake word again"
    assert run.returned_before(run.events_of(MUTED)[0]) == returned_while_muted


async def test_a_gate_opened_while_muted_never_opens_the_microphone_until_unmuted(tmp_path: Path) -> None:
    scene, mute = conversation_scene(), MuteSwitch(muted=True)
    mic = WavMic(scene.write(tmp_path / "mic.wav"))
    gate = WakeGate(mic, tone_detector(), mute=mute)
    assert gate.state is MUTED
    await gate.open()
    with anyio.move_on_after(0.05):
        await gate.read()
    assert mic.opens == 0 and mic.captured_frames == 0
    await gate.close()


async def test_a_plain_microphone_honours_the_mute(tmp_path: Path) -> None:
    scene, mute = Scene(2.0), MuteSwitch()
    changes: list[bool] = []
    closed = anyio.Event()

    def on_change(muted: bool) -> None:
        changes.append(muted)
        if muted:
            closed.set()

    mic = WavMic(scene.write(tmp_path / "mic.wav"), on_block=lambda t: abs(t - 1.0) < 1e-6 and mute.set(True))
    muted_mic = MutedAudioIn(mic, mute, on_change)
    where = block_starts(scene)
    starts: list[float] = []

    async def unmute_once_closed() -> None:
        await closed.wait()
        assert not mic.is_open
        mute.set(False)

    await muted_mic.open()
    async with anyio.create_task_group() as tg:
        tg.start_soon(unmute_once_closed)
        with pytest.raises(EndOfAudio):
            while True:
                starts.append(where[await muted_mic.read()])
    await muted_mic.close()
    assert changes == [True, False] and mic.opens == 2
    assert 0.98 not in starts, "the block captured as the switch flipped is dropped"
    assert starts == [start for start in sorted(where.values()) if start != 0.98]


async def test_sigusr1_toggles_the_mute() -> None:
    mute = MuteSwitch()
    changed = anyio.Event()
    mute.subscribe(lambda muted: changed.set())
    async with anyio.create_task_group() as tg:
        await tg.start(toggle_on_signal, mute)
        os.kill(os.getpid(), signal.SIGUSR1)
        await changed.wait()
        tg.cancel_scope.cancel()
    assert mute.muted and mute.status_text() == "mic muted"


def event(kind: int, code: int, value: int) -> bytes:
    return INPUT_EVENT.pack(1_700_000_000, 0, kind, code, value)


PRESS, RELEASE, REPEAT = 1, 0, 2
EV_SYN, EV_KEY = 0, 1


async def test_button_presses_on_an_event_device_toggle_the_mute(tmp_path: Path) -> None:
    fifo = tmp_path / "event0"
    os.mkfifo(fifo)
    mute = MuteSwitch()
    toggles: list[bool] = []
    mute.subscribe(toggles.append)
    micmute = KEY_CODES["KEY_MICMUTE"]
    stream = b"".join(
        [
            event(EV_KEY, micmute, PRESS),
            event(EV_SYN, 0, 0),
            event(EV_KEY, micmute, REPEAT),  # held down: no extra toggle
            event(EV_KEY, micmute, RELEASE),
            event(EV_KEY, KEY_CODES["KEY_SPACE"], PRESS),  # another key
            event(EV_KEY, micmute, PRESS),
            event(EV_KEY, micmute, RELEASE),
            event(EV_KEY, micmute, PRESS),
        ]
    )

    def press_buttons() -> None:
        with open(fifo, "wb") as device:  # a real evdev device writes whole events; split one to be harsh
            device.write(stream[:30])
            device.flush()
            device.write(stream[30:])

    async with anyio.create_task_group() as tg:
        await tg.start(toggle_on_button, mute, parse_button(f"evdev:{fifo}:KEY_MICMUTE"))
        await anyio.to_thread.run_sync(press_buttons)
    assert toggles == [True, False, True]


def test_button_names_and_numbers_parse() -> None:
    assert parse_button("evdev:/dev/input/event3:KEY_MICMUTE") == Button(
        Path("/dev/input/event3"), 248, "evdev:/dev/input/event3:KEY_MICMUTE"
    )
    assert parse_button("evdev:/dev/input/by-path/platform-gpio-keys-event:330").code == 330
    for wrong in ("gpio:17", "evdev:/dev/input/event0", "evdev:/dev/input/event0:KEY_NOPE"):
        with pytest.raises(ValueError):
            parse_button(wrong)


def test_input_events_have_the_native_layout() -> None:
    assert INPUT_EVENT.size == struct.calcsize("@llHHi")


async def test_a_missing_button_device_is_a_device_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="group `input`"):
        await toggle_on_button(MuteSwitch(), parse_button(f"evdev:{tmp_path}/nope:KEY_MUTE"))


def test_the_switch_is_safe_to_flip_from_many_threads() -> None:
    mute = MuteSwitch()
    flips: list[bool] = []
    mute.subscribe(flips.append)
    threads = [threading.Thread(target=lambda: [mute.toggle("thread") for _ in range(1000)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mute.muted is False and len(flips) == 4000


async def test_a_plain_thread_can_unmute_a_waiting_reader() -> None:
    mute = MuteSwitch(muted=True)
    unmuter = threading.Thread(target=mute.set, args=(False, "control thread"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(mute.wait_until_unmuted)
        await anyio.lowlevel.checkpoint()  # the waiter is registered before the thread starts
        unmuter.start()
    unmuter.join()
    assert not mute.muted
