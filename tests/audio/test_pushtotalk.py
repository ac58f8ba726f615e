"""Push-to-talk: evdev records from a real file descriptor, a terminal key through a pseudo-terminal."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import anyio
import pytest

from runtime.audio.evdev import EV_KEY, INPUT_EVENT, key_changes, key_code
from runtime.audio.pushtotalk import EvdevButton, TerminalKey, talk_button
from runtime.errors import DeviceError

pytestmark = pytest.mark.anyio
KEY_F1 = 59


def event(event_type: int, code: int, value: int) -> bytes:
    return INPUT_EVENT.pack(1_700_000_000, 0, event_type, code, value)


SYN = event(0, 0, 0)


def test_presses_and_releases_of_the_key_are_found_and_repeats_and_other_keys_ignored() -> None:
    records = (
        event(EV_KEY, KEY_F1, 1) + SYN + event(EV_KEY, KEY_F1, 2) + event(EV_KEY, 30, 1) + event(EV_KEY, KEY_F1, 0)
    )
    assert list(key_changes(records, KEY_F1)) == [True, False]


def test_key_names_and_numbers() -> None:
    assert key_code("KEY_F1") == KEY_F1 and key_code("key_space") == 57 and key_code("BTN_0") == 0x100
    assert key_code("248") == 248
    with pytest.raises(ValueError, match="unknown key"):
        key_code("KEY_NOPE")
    with pytest.raises(DeviceError, match="unknown key"):
        talk_button(None, "evdev:/dev/input/event0:KEY_NOPE")


def test_the_agent_file_setting_picks_the_button() -> None:
    button = talk_button("space", "evdev:/dev/input/by-id/usb-foot-switch-event-kbd:KEY_F1")
    assert isinstance(button, EvdevButton) and button.code == KEY_F1
    assert button.path == Path("/dev/input/by-id/usb-foot-switch-event-kbd")
    assert isinstance(talk_button("t", None), TerminalKey)
    with pytest.raises(DeviceError, match="gpio-key"):
        talk_button(None, "gpio:17")


async def test_an_evdev_button_reports_holding_and_releasing_the_key(tmp_path: Path) -> None:
    fifo = tmp_path / "event0"
    os.mkfifo(fifo)
    states: list[bool] = []

    async def listen() -> None:
        async for talking in EvdevButton(fifo, KEY_F1).states():
            states.append(talking)
            if len(states) == 2:
                return

    async with anyio.create_task_group() as tg:
        tg.start_soon(listen)
        writer = await anyio.to_thread.run_sync(lambda: os.open(fifo, os.O_WRONLY))
        press = event(EV_KEY, KEY_F1, 1) + SYN
        os.write(writer, press[:10])  # a record split across reads
        os.write(writer, press[10:] + event(EV_KEY, KEY_F1, 2) + event(EV_KEY, KEY_F1, 0) + SYN)
        with anyio.fail_after(5):
            while len(states) < 2:
                await anyio.sleep(0.01)
        os.close(writer)
    assert states == [True, False]


async def test_a_terminal_key_toggles_talking() -> None:
    master, slave = os.openpty()
    states: list[bool] = []

    async def listen() -> None:
        async for talking in TerminalKey("space", fd=slave).states():
            states.append(talking)
            if len(states) == 2:
                return

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(listen)
            await anyio.wait_all_tasks_blocked()  # the listener has put the terminal in cbreak mode
            os.write(master, b"x ")
            os.write(master, b"y ")
    finally:
        os.close(master)
        os.close(slave)
    assert states == [True, False]


def test_input_event_matches_the_kernels_64_bit_layout() -> None:
    assert INPUT_EVENT.size == struct.calcsize("llHHi") == (24 if struct.calcsize("l") == 8 else 16)
