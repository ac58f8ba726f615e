"""Push-to-talk buttons (`activity.mode: push_to_talk`): a terminal key, or a Linux input device key.

A button yields `True` when the user starts talking and `False` when they stop. A terminal cannot report
key releases, so a terminal key toggles; an evdev key is held down while talking.

- `key: space` (terminal): read from a TTY in cbreak mode.
- `input: evdev:/dev/input/event3:KEY_F1`: `struct input_event` records read with the standard library
  (no `evdev` package). A key name or a numeric code may follow the last colon.
- `input: gpio:PIN` is not read directly: on a Raspberry Pi the kernel's `gpio-key` overlay turns a GPIO
  button into an input device (`dtoverlay=gpio-key,gpio=17,keycode=59,label=PTT` in config.txt), which is
  then named with `evdev:` (see docs/audio.md). That keeps GPIO chip quirks in the kernel.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Protocol

import anyio

from runtime.errors import DeviceError

INPUT_EVENT = struct.Struct("llHHi")
"""struct input_event: struct timeval (two C longs), __u16 type, __u16 code, __s32 value."""
EV_KEY = 0x01
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
    "KEY_PLAYPAUSE": 164,
    "KEY_MICMUTE": 248,
    "KEY_RECORD": 167,
    "KEY_PROG1": 148,
    "KEY_VOICECOMMAND": 582,
    **{f"BTN_{n}": 0x100 + n for n in range(10)},
    "BTN_LEFT": 0x110,
    "BTN_RIGHT": 0x111,
    "BTN_MIDDLE": 0x112,
}
"""Linux key codes (include/uapi/linux/input-event-codes.h) for the keys a talk button is likely to be."""

TERMINAL_KEYS = {"space": b" ", "enter": b"\n", "tab": b"\t"}


class TalkButton(Protocol):
    """Something the user presses to talk."""

    def states(self) -> AsyncIterator[bool]:
        """True when talking starts, False when it stops; runs until cancelled."""
        ...


def key_code(name: str) -> int:
    """A key name (`KEY_F1`, `BTN_0`) or number as a Linux input key code."""
    if name.isdigit():
        return int(name)
    code = KEY_CODES.get(name.upper())
    if code is None:
        raise DeviceError(f"unknown key {name!r}; use a KEY_/BTN_ name such as KEY_F1 or the numeric code")
    return code


def key_changes(records: bytes, code: int) -> Iterator[bool]:
    """Press (True) and release (False) of `code` in a run of whole input_event records; repeats are skipped."""
    for _sec, _usec, event_type, event_code, value in INPUT_EVENT.iter_unpack(records):
        if event_type == EV_KEY and event_code == code and value in (KEY_UP, KEY_DOWN):
            yield value == KEY_DOWN


class EvdevButton:
    """A key on a Linux input device (keyboard, USB button, GPIO button via the gpio-key overlay)."""

    def __init__(self, path: Path, code: int) -> None:
        self.path = path
        self.code = code

    async def states(self) -> AsyncIterator[bool]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise DeviceError(
                f"cannot read push-to-talk input {self.path}: {exc} (is the user in group `input`?)"
            ) from exc
        pending = b""
        try:
            while True:
                await anyio.wait_readable(fd)
                try:
                    chunk = os.read(fd, INPUT_EVENT.size * 64)
                except BlockingIOError:
                    continue
                if not chunk:  # a FIFO whose writer left; a real device reports ENODEV instead
                    await anyio.sleep(0.05)
                    continue
                pending += chunk
                whole = len(pending) - len(pending) % INPUT_EVENT.size
                for pressed in key_changes(pending[:whole], self.code):
                    yield pressed
                pending = pending[whole:]
        except OSError as exc:
            raise DeviceError(f"push-to-talk input {self.path} failed: {exc}") from exc
        finally:
            os.close(fd)


class TerminalKey:
    """A key in the controlling terminal: each press toggles talking (terminals report no releases)."""

    def __init__(self, key: str = "space", fd: int | None = None) -> None:
        self.key = TERMINAL_KEYS.get(key, key.encode()[:1])
        self.fd = fd

    async def states(self) -> AsyncIterator[bool]:
        fd = self.fd if self.fd is not None else _tty_fd()
        talking = False
        with _cbreak(fd):
            while True:
                await anyio.wait_readable(fd)
                for byte in os.read(fd, 64):
                    if bytes([byte]) == self.key:
                        talking = not talking
                        yield talking


def _tty_fd() -> int:
    try:
        return os.open("/dev/tty", os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise DeviceError("push-to-talk with a terminal key needs a terminal; use `input: evdev:...`") from exc


@contextlib.contextmanager
def _cbreak(fd: int) -> Iterator[None]:
    """Keys arrive one at a time and are not echoed; the terminal is restored afterwards."""
    import termios
    import tty

    try:
        saved = termios.tcgetattr(fd)
    except termios.error:  # not a terminal (a pipe in tests): nothing to set
        yield
        return
    tty.setcbreak(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def talk_button(key: str | None, hardware: str | None) -> TalkButton:
    """The button an agent's `activity.push_to_talk` names; hardware wins over the terminal key."""
    if hardware:
        kind, _, rest = hardware.partition(":")
        if kind == "evdev":
            path, _, name = rest.rpartition(":")
            if not path or not name:
                raise DeviceError(f"push-to-talk input {hardware!r}: expected evdev:/dev/input/eventN:KEY_NAME")
            return EvdevButton(Path(path), key_code(name))
        if kind == "gpio":
            raise DeviceError(
                f"push-to-talk input {hardware!r}: GPIO pins are read through the kernel's gpio-key overlay; add"
                f" `dtoverlay=gpio-key,gpio={rest},keycode=59,label=PTT` to /boot/firmware/config.txt, reboot, and use"
                " `evdev:/dev/input/by-path/<the new device>:KEY_F1` (`ls /dev/input/by-path`; see docs/audio.md)"
            )
        raise DeviceError(f"push-to-talk input {hardware!r}: expected evdev:DEVICE:KEY or gpio:PIN")
    return TerminalKey(key or "space")
