"""The restart policy of one agent, as plain arithmetic: how a run ended -> what the supervisor does next.

No clock and no randomness of its own: both are passed in, so every decision is reproducible in a test.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from runtime.spec import Supervision

DEVICE_POLL_S = (2.0, 30.0)
"""An agent whose audio device is missing looks for it again after 2 s, then less and less often, up to every
30 s: each look opens PortAudio, which prints its own complaints to stderr, so a long wait must stay quiet."""

STABLE_RUN_S = 30.0
"""A run at least this long (or the longest backoff, if longer) resets the backoff to its first step (seconds)."""


class Ending(Enum):
    """How one run of a session ended."""

    CLEAN = "clean"
    """`run()` returned on its own."""
    ERROR = "error"
    """An error a retry may fix (a dropped connection the session could not recover, a tool import error)."""
    FATAL = "fatal"
    """An error a retry will not fix soon (bad key, quota, model not found): retried at the slowest pace."""
    HUNG = "hung"
    """The watchdog saw no progress for `watchdog_s`."""
    DEVICE = "device"
    """The audio device is missing: waited for, never counted as a restart."""


class Action(Enum):
    RESTART = "restart"
    WAIT_DEVICE = "wait_device"
    STOP = "stop"
    PARK = "park"


@dataclass(frozen=True)
class Decision:
    action: Action
    delay_s: float = 0.0
    reason: str = ""


def backoff_delay_s(failures: int, bounds: tuple[float, float], jitter: float) -> float:
    """Exponential backoff: the first failure waits `low`, each further one doubles, capped at `high`.

    `jitter` in [0, 1) spreads the wait over the upper half of the step (never below `low`), so agents that
    failed together (a network outage) do not reconnect in lockstep.
    """
    low, high = min(bounds), max(bounds)
    step = min(high, low * 2.0 ** max(0, failures - 1))
    return max(low, step * (0.5 + 0.5 * jitter))


class RestartPolicy:
    """Restart intensity and backoff state of one agent (`supervision` of its file)."""

    def __init__(self, supervision: Supervision, *, device_poll_s: tuple[float, float] = DEVICE_POLL_S) -> None:
        self.supervision = supervision
        self.device_poll_s = device_poll_s
        self._device_waits = 0
        self._restarts: deque[float] = deque()
        self._failures = 0

    @property
    def failures(self) -> int:
        """Consecutive failed runs since the last stable one."""
        return self._failures

    def decide(self, ending: Ending, *, ran_s: float, now: float, jitter: float) -> Decision:
        """What to do after a run that lasted `ran_s` seconds ended with `ending` at time `now`."""
        rules = self.supervision
        if ending is Ending.DEVICE:
            self._device_waits += 1
            delay_s = backoff_delay_s(self._device_waits, self.device_poll_s, jitter=0.999)
            return Decision(Action.WAIT_DEVICE, delay_s, "audio device missing")
        self._device_waits = 0
        if ran_s >= max(STABLE_RUN_S, max(rules.backoff_s)):
            self._failures = 0
        if rules.restart == "never" or (rules.restart == "on_failure" and ending is Ending.CLEAN):
            if ending is Ending.CLEAN:
                return Decision(Action.STOP, reason="session ended")
            return Decision(Action.PARK, reason=f"session ended ({ending.value}) and restart is `{rules.restart}`")
        while self._restarts and now - self._restarts[0] > rules.window_s:
            self._restarts.popleft()
        if len(self._restarts) >= rules.max_restarts:
            reason = f"{len(self._restarts)} restarts within {rules.window_s:g} s (max_restarts {rules.max_restarts})"
            return Decision(Action.PARK, reason=reason)
        self._restarts.append(now)
        self._failures += 1
        if ending is Ending.FATAL:
            return Decision(Action.RESTART, max(rules.backoff_s), "fatal error, retrying slowly")
        return Decision(Action.RESTART, backoff_delay_s(self._failures, rules.backoff_s, jitter), ending.value)
