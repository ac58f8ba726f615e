"""A hardware mute button: each press of a key on a Linux input device toggles the mute (see `runtime.audio.evdev`
for GPIO buttons); key repeats and releases are ignored, so holding the button toggles once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.abc

from runtime.audio.evdev import KeyDevice, parse_key
from runtime.errors import DeviceError
from runtime.wake.mute import MuteSwitch

log = logging.getLogger(__name__)


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
    device, code = parse_key(text)
    return Button(device, code, text)


async def toggle_on_button(
    mute: MuteSwitch,
    button: Button,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run in the daemon's task group: each press toggles the mute; returns if the device goes away."""
    try:
        device = KeyDevice(button.device)
    except OSError as exc:
        raise DeviceError(
            f"cannot open mute button {button.label}: {exc.strerror}; is the user in group `input`?"
        ) from exc
    with device:
        log.info("mute button %s ready", button.label)
        task_status.started()
        async for pressed in device.states(button.code):
            if pressed:
                mute.toggle(button.label)
    log.warning("mute button %s went away; the mute can still be toggled with SIGUSR1", button.label)
