"""A hardware mute button read straight from the Linux input subsystem (evdev), with the standard library.

A GPIO push button becomes an evdev device with the kernel's `gpio-keys` driver (on a Raspberry Pi:
`dtoverlay=gpio-key,gpio=17,keycode=248,label=MICMUTE` in config.txt), so one reader covers USB
keyboards, remote controls, conference-speaker mute keys and GPIO buttons alike.
"""

from __future__ import annotations

import errno
import logging
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.abc

from runtime.errors import DeviceError
from runtime.wake.mute import MuteSwitch, toggle_on_signal

log = logging.getLogger(__name__)

INPUT_EVENT = struct.Struct("@llHHi")
"""`struct input_event`: struct timeval (two C longs), u16 type, u16 code, s32 value — native layout, so
it is 24 bytes on 64-bit kernels and 16 on 32-bit Raspberry Pi OS."""
EV_KEY = 1
KEY_PRESS = 1

KEY_CODES = {
    "KEY_ESC": 1, "KEY_ENTER": 28, "KEY_SPACE": 57, "KEY_F1": 59, "KEY_F2": 60, "KEY_F3": 61, "KEY_F4": 62,
    "KEY_F5": 63, "KEY_F6": 64, "KEY_F7": 65, "KEY_F8": 66, "KEY_F9": 67, "KEY_F10": 68, "KEY_F11": 87,
    "KEY_F12": 88, "KEY_MUTE": 113, "KEY_VOLUMEDOWN": 114, "KEY_VOLUMEUP": 115, "KEY_POWER": 116,
    "KEY_PAUSE": 119, "KEY_PROG1": 148, "KEY_PROG2": 149, "KEY_PLAYPAUSE": 164, "KEY_MICMUTE": 248,
    "BTN_0": 256, "BTN_1": 257, "BTN_2": 258, "BTN_3": 259, "BTN_LEFT": 272, "BTN_RIGHT": 273,
}  # fmt: skip
"""Names from linux/input-event-codes.h for the keys a mute button usually sends; any other key can be
given by its number (`evdev:/dev/input/event3:330`)."""


@dataclass(frozen=True)
class Button:
    """Which device and key toggles the mute."""

    device: Path
    """The evdev character device (`/dev/input/eventN`, or a `/dev/input/by-id/...` link)."""
    code: int
    """The key code (EV_KEY)."""
    label: str
    """As written in the agent file, for logs."""


def parse_button(text: str) -> Button:
    """`evdev:DEVICE:KEY` (a KEY_/BTN_ name or a number) → `Button`; `ValueError` says what is wrong."""
    kind, _, rest = text.partition(":")
    device, _, key = rest.rpartition(":")
    if kind != "evdev" or not device or not key:
        raise ValueError(f"a button is written `evdev:/dev/input/eventN:KEY_NAME`, not {text!r}")
    code = int(key) if key.isdigit() else KEY_CODES.get(key.upper())
    if code is None:
        raise ValueError(f"unknown key {key!r}: use one of {', '.join(sorted(KEY_CODES))} or a key number")
    return Button(Path(device), code, text)


def key_presses(stream: bytes, code: int) -> tuple[int, bytes]:
    """How many presses of `code` complete events in `stream` hold, and the bytes of a partial event."""
    whole = len(stream) - len(stream) % INPUT_EVENT.size
    presses = sum(1 for event in _events(stream[:whole]) if event == (EV_KEY, code, KEY_PRESS))
    return presses, stream[whole:]


def _events(stream: bytes) -> Iterator[tuple[int, int, int]]:
    for _sec, _usec, kind, code, value in INPUT_EVENT.iter_unpack(stream):
        yield kind, code, value


async def toggle_on_button(
    mute: MuteSwitch,
    button: Button,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run in the daemon's task group: each press of the button toggles the mute; returns if the device goes away.

    Key repeats (value 2) and releases are ignored, so holding the button toggles once.
    """
    try:
        fd = os.open(button.device, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise DeviceError(
            f"cannot open mute button {button.label}: {exc.strerror}; is the user in group `input`?"
        ) from exc
    log.info("mute button %s ready", button.label)
    try:
        task_status.started()
        await _read_presses(fd, mute, button)
    finally:
        os.close(fd)


async def _read_presses(fd: int, mute: MuteSwitch, button: Button) -> None:
    partial = b""
    while True:
        await anyio.wait_readable(fd)
        try:
            chunk = os.read(fd, INPUT_EVENT.size * 64)
        except BlockingIOError:
            continue
        except OSError as exc:
            if exc.errno != errno.ENODEV:
                raise
            chunk = b""
        if not chunk:
            log.warning("mute button %s went away; the mute can still be toggled with SIGUSR1", button.label)
            return
        presses, partial = key_presses(partial + chunk, button.code)
        for _ in range(presses):
            mute.toggle(button.label)


async def mute_controls(
    mute: MuteSwitch,
    buttons: Iterable[str] = (),
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Everything that can flip the mute, for the daemon's task group: SIGUSR1 and the agents' buttons.

    A button that cannot be opened is logged and skipped: the daemon keeps running, SIGUSR1 still works.
    """
    async with anyio.create_task_group() as group:
        await group.start(toggle_on_signal, mute)
        for text in dict.fromkeys(buttons):  # two agents may name the same button: read it once
            try:
                await group.start(toggle_on_button, mute, parse_button(text))
            except (DeviceError, ValueError) as exc:
                log.error("mute button %s is not available: %s", text, exc)
        task_status.started()
