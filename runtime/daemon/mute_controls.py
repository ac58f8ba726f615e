"""What flips the daemon's mute switch: SIGUSR1, and the mute buttons the running agents name."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import anyio
import anyio.abc

from runtime.agentfile.spec import AgentSpec
from runtime.errors import DeviceError
from runtime.wake.button import parse_button, toggle_on_button
from runtime.wake.mute import MuteSwitch, toggle_on_signal

log = logging.getLogger(__name__)


def mute_buttons(specs: Iterable[AgentSpec]) -> list[str]:
    """Every `audio.input.mute_button` named in the agent files (each is read once, whoever names it)."""
    return list(dict.fromkeys(spec.audio.input.mute_button for spec in specs if spec.audio.input.mute_button))


class MuteControls:
    """Everything that flips the mute: SIGUSR1, and the buttons the running agents name, kept in step with
    reloads (a button added to an agent file is read from then on, one no agent names any more is let go).

    A button that cannot be opened is logged and skipped (tried again at the next reload); SIGUSR1 still works.
    """

    def __init__(self, mute: MuteSwitch) -> None:
        self.mute = mute
        self._group: anyio.abc.TaskGroup | None = None
        self._buttons: dict[str, anyio.CancelScope] = {}

    @property
    def buttons(self) -> list[str]:
        """The buttons being read now."""
        return list(self._buttons)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as group:
            self._group = group
            await group.start(toggle_on_signal, self.mute)
            task_status.started()
            await anyio.sleep_forever()

    def use(self, buttons: Iterable[str]) -> None:
        """Read exactly these buttons (`evdev:DEVICE:KEY`); call from the event loop."""
        assert self._group is not None, "MuteControls.run first"
        wanted = list(dict.fromkeys(buttons))
        for text in [t for t in self._buttons if t not in wanted]:
            log.info("mute button %s is no longer named by any agent", text)
            self._buttons.pop(text).cancel()
        for text in [t for t in wanted if t not in self._buttons]:
            scope = self._buttons[text] = anyio.CancelScope()
            self._group.start_soon(self._read, text, scope)

    async def _read(self, text: str, scope: anyio.CancelScope) -> None:
        with scope:
            try:
                await toggle_on_button(self.mute, parse_button(text))
            except (DeviceError, ValueError) as exc:
                log.error("mute button %s is not available: %s", text, exc)
        if self._buttons.get(text) is scope:
            del self._buttons[text]  # gone or never there: the next reload tries again
