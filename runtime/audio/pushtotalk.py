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
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Protocol

import anyio

from runtime.audio.evdev import KeyDevice, key_code
from runtime.errors import DeviceError

TERMINAL_KEYS = {"space": b" ", "enter": b"\n", "tab": b"\t"}


class TalkButton(Protocol):
    """Something the user presses to talk."""

    def states(self) -> AsyncIterator[bool]:
        """True when talking starts, False when it stops; runs until cancelled."""
        ...


class EvdevButton:
    """A key on a Linux input device (keyboard, USB button, GPIO button via the gpio-key overlay)."""

    def __init__(self, path: Path, code: int) -> None:
        self.path = path
        self.code = code

    async def states(self) -> AsyncIterator[bool]:
        try:
            device = KeyDevice(self.path)
        except OSError as exc:
            raise DeviceError(
                f"cannot read push-to-talk input {self.path}: {exc} (is the user in group `input`?)"
            ) from exc
        try:
            with device:
                async for pressed in device.states(self.code):
                    yield pressed
        except OSError as exc:
            raise DeviceError(f"push-to-talk input {self.path} failed: {exc}") from exc
        raise DeviceError(f"push-to-talk input {self.path} went away (unplugged?)")


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
            try:
                return EvdevButton(Path(path), key_code(name))
            except ValueError as exc:
                raise DeviceError(f"push-to-talk input {hardware!r}: {exc}") from exc
        if kind == "gpio":
            raise DeviceError(
                f"push-to-talk input {hardware!r}: GPIO pins are read through the kernel's gpio-key overlay; add"
                f" `dtoverlay=gpio-key,gpio={rest},keycode=59,label=PTT` to /boot/firmware/config.txt, reboot, and use"
                " `evdev:/dev/input/by-path/<the new device>:KEY_F1` (`ls /dev/input/by-path`; see docs/audio.md)"
            )
        raise DeviceError(f"push-to-talk input {hardware!r}: expected evdev:DEVICE:KEY or gpio:PIN")
    return TerminalKey(key or "space")
