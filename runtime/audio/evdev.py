"""Keys of Linux input devices (evdev), read with the standard library: push-to-talk and mute buttons.

A GPIO push button becomes an input device with the kernel's `gpio-keys` driver (on a Raspberry Pi:
`dtoverlay=gpio-key,gpio=17,keycode=248,label=MICMUTE` in config.txt), so one reader covers USB keyboards,
foot switches, remote controls, conference-speaker mute keys and GPIO buttons alike, with no `evdev` package.
Buttons are written `evdev:DEVICE:KEY` in agent files, KEY a KEY_/BTN_ name or a number.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio

INPUT_EVENT = struct.Struct("@llHHi")
"""`struct input_event`: struct timeval (two C longs), u16 type, u16 code, s32 value — native layout, so
it is 24 bytes on 64-bit kernels and 16 on 32-bit Raspberry Pi OS."""
EV_KEY = 1
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2

KEY_CODES: dict[str, int] = {
    "KEY_ESC": 1,
    "KEY_ENTER": 28,
    "KEY_LEFTCTRL": 29,
    "KEY_SPACE": 57,
    "KEY_CAPSLOCK": 58,
    **{f"KEY_F{n}": 58 + n for n in range(1, 11)},
    "KEY_F11": 87,
    "KEY_F12": 88,
    **{f"KEY_{c}": code for c, code in zip("QWERTYUIOP", range(16, 26), strict=True)},
    **{f"KEY_{c}": code for c, code in zip("ASDFGHJKL", range(30, 39), strict=True)},
    **{f"KEY_{c}": code for c, code in zip("ZXCVBNM", range(44, 51), strict=True)},
    "KEY_MUTE": 113,
    "KEY_VOLUMEDOWN": 114,
    "KEY_VOLUMEUP": 115,
    "KEY_POWER": 116,
    "KEY_PAUSE": 119,
    "KEY_PROG1": 148,
    "KEY_PROG2": 149,
    "KEY_PLAYPAUSE": 164,
    "KEY_RECORD": 167,
    "KEY_MICMUTE": 248,
    "KEY_VOICECOMMAND": 582,
    **{f"BTN_{n}": 0x100 + n for n in range(10)},
    "BTN_LEFT": 0x110,
    "BTN_RIGHT": 0x111,
    "BTN_MIDDLE": 0x112,
}
"""Names from linux/input-event-codes.h for the keys a talk or mute button usually sends; any other key
can be given by its number."""


def key_code(name: str) -> int:
    """A key name (`KEY_F1`, `btn_0`) or number as a Linux key code; `ValueError` for an unknown name."""
    if name.isdigit():
        return int(name)
    code = KEY_CODES.get(name.upper())
    if code is None:
        raise ValueError(f"unknown key {name!r}: use a KEY_/BTN_ name such as KEY_F1 or the key's number")
    return code


def parse_key(text: str) -> tuple[Path, int]:
    """`evdev:DEVICE:KEY` → (device, key code); `ValueError` says what is wrong."""
    kind, _, rest = text.partition(":")
    device, _, key = rest.rpartition(":")
    if kind != "evdev" or not device or not key:
        raise ValueError(f"a button is written `evdev:/dev/input/eventN:KEY_NAME`, not {text!r}")
    return Path(device), key_code(key)


def key_changes(records: bytes, code: int) -> Iterator[bool]:
    """Press (True) and release (False) of `code` in a run of whole input_event records; repeats are skipped."""
    for _sec, _usec, event_type, event_code, value in INPUT_EVENT.iter_unpack(records):
        if event_type == EV_KEY and event_code == code and value in (KEY_UP, KEY_DOWN):
            yield value == KEY_DOWN


class KeyDevice:
    """An open input device (a context manager that closes it); `OSError` if it cannot be opened (often
    EACCES: the user is not in group `input`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)

    def __enter__(self) -> KeyDevice:
        return self

    def __exit__(self, *_exc: object) -> None:
        os.close(self._fd)

    async def states(self, code: int) -> AsyncIterator[bool]:
        """Presses (True) and releases (False) of one key as they happen; ends when the device goes away
        (ENODEV, or end of file). Records split across reads are reassembled."""
        pending = b""
        while True:
            await anyio.wait_readable(self._fd)
            try:
                chunk = os.read(self._fd, INPUT_EVENT.size * 64)
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno != errno.ENODEV:
                    raise
                return
            if not chunk:
                return
            pending += chunk
            whole = len(pending) - len(pending) % INPUT_EVENT.size
            for pressed in key_changes(pending[:whole], code):
                yield pressed
            pending = pending[whole:]
