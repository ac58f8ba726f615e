"""When an agent reconnects, restarts or is parked: the whole ladder, decided here, as plain arithmetic.

1. **Reconnect** (`Reconnects`, asked by the session after each connection): the session holds the
   resumption handle and the microphone buffer, so a new connection loses nothing. A handover goes at once;
   a drop goes at once the first time, then after `backoff_delay_s` from `first_backoff_s` up to
   `longest_backoff_s`, until a handover or a connection that lasted `healthy_after_s` starts it over; an
   auth/quota failure waits `fatal_retry_s` times its repeat count.
2. **Restart** (`RestartPolicy`, asked by the supervisor after each run of a session): a session gives up
   after `give_up_after` connection attempts in a row without a `setupComplete` (`SessionError`) or
   `fatal_attempts` auth/quota failures in a row (`FatalSessionError`); the supervisor restarts it after
   `backoff_delay_s` over the agent file's `supervision.backoff_s` (fatal: the longest wait). A missing
   audio device is waited for, polled less and less often (`DEVICE_POLL_S`), never counted as a restart.
3. **Park**: more than `supervision.max_restarts` restarts within `window_s`, or an ending that
   `restart: never | on_failure` does not restart.

This module is pure: no clock and no randomness of its own (both are passed in), no I/O, and no import of
the layers that ask it (`runtime/live`, `runtime/daemon`, `runtime/audio` all use it), so every decision is
reproducible in a test.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.agentfile.spec import Supervision


def backoff_delay_s(attempt: int, bounds: tuple[float, float], jitter: float) -> float:
    """The wait before retry number `attempt` (1, 2, ...): a step that starts at the lower bound and doubles
    with each attempt, capped at the upper bound (bounds in either order).

    `jitter` in [0, 1] spreads the wait over the upper half of the step (1.0: the whole step), so agents that
    failed together (a network outage) do not come back in lockstep.
    """
    low, high = min(bounds), max(bounds)
    step = min(high, low * 2.0 ** max(0, attempt - 1))
    return step * (0.5 + 0.5 * jitter)


# -- 1. reconnect: the session's connections --------------------------------------------------------------


class Recovery(enum.Enum):
    """What a session does after its connection ended."""

    HANDOVER = "handover"
    """A planned switch (goAway): the old socket was closed at a resumable point; resume at once."""
    RESUME = "resume"
    """Transient (drop, server error, deadline, goAway): reconnect at once, with the handle."""
    FRESH = "fresh"
    """The handle is stale (session not found) or its session is over: forget it, start a new conversation."""
    FATAL = "fatal"
    """Auth, quota, unknown model: retrying soon will not help; report and retry slowly."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a session tries before it gives up (seconds and counts)."""

    first_backoff_s: float = 0.25
    """The first wait after a drop (the first reconnect itself goes at once); doubles with each retry."""
    longest_backoff_s: float = 10.0
    healthy_after_s: float = 10.0
    """A connection that lasted this long resets the backoff."""
    fatal_retry_s: float = 30.0
    """Wait after an auth/quota failure; grows linearly with each repeat."""
    fatal_attempts: int = 3
    """Auth/quota failures in a row before `FatalSessionError`."""
    give_up_after: int = 12
    """Connection attempts in a row without a `setupComplete` before `SessionError`."""


class Next(enum.Enum):
    """What a session does after one of its connections ended."""

    RECONNECT = "reconnect"
    """Open a new connection after `delay_s`."""
    GIVE_UP = "give_up"
    """Raise `SessionError`: the server cannot be reached; the supervisor restarts the session."""
    GIVE_UP_FATAL = "give_up_fatal"
    """Raise `FatalSessionError`: auth/quota failures repeat; the supervisor restarts at its slowest pace."""


@dataclass(frozen=True)
class Reconnect:
    """The decision after one connection: what next, after how long, and how many tries led to it."""

    next: Next
    delay_s: float = 0.0
    tries: int = 0


class Reconnects:
    """The reconnect state of one session: failures in a row and the backoff step."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self._unready = 0
        """Connection attempts in a row that never reached `setupComplete`."""
        self._fatal = 0
        """Auth/quota failures in a row."""
        self._drops = 0
        """Drops since the backoff was last reset."""

    def after(self, recovery: Recovery, *, ready: bool, lasted_s: float, jitter: float) -> Reconnect:
        """What to do after a connection that ended with `recovery`, got `ready` or not, lasted `lasted_s`."""
        policy = self.policy
        self._unready = 0 if ready else self._unready + 1
        self._fatal = self._fatal + 1 if recovery is Recovery.FATAL else 0
        if self._fatal >= policy.fatal_attempts:
            return Reconnect(Next.GIVE_UP_FATAL, tries=self._fatal)
        if self._unready >= policy.give_up_after:
            return Reconnect(Next.GIVE_UP, tries=self._unready)
        if recovery is Recovery.HANDOVER or (ready and lasted_s >= policy.healthy_after_s):
            self._drops = 0  # the connection worked: a later drop starts from an immediate retry again
        if recovery is Recovery.HANDOVER:
            return Reconnect(Next.RECONNECT)
        if recovery is Recovery.FATAL:
            return Reconnect(Next.RECONNECT, policy.fatal_retry_s * self._fatal, self._fatal)
        self._drops += 1
        if self._drops == 1:
            return Reconnect(Next.RECONNECT, 0.0, self._drops)
        bounds = (policy.first_backoff_s, policy.longest_backoff_s)
        return Reconnect(Next.RECONNECT, backoff_delay_s(self._drops - 1, bounds, jitter), self._drops)


# -- 2. and 3. restart and park: the supervisor's runs ----------------------------------------------------

DEVICE_POLL_S = (2.0, 30.0)
"""An agent whose audio device is missing looks for it again after 2 s, then less and less often, up to every
30 s: each look opens PortAudio, which prints its own complaints to stderr, so a long wait must stay quiet."""

STABLE_RUN_S = 30.0
"""A run at least this long (or the longest backoff, if longer) resets the backoff to its first step (seconds)."""


class RunEnd(enum.Enum):
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
    REFUSED = "refused"
    """The token service refused this device's credential or this agent: parked at once (a revoked device must
    not keep asking); a reload (SIGHUP, an edited agent file) starts it again."""


class Action(enum.Enum):
    RESTART = "restart"
    WAIT_DEVICE = "wait_device"
    STOP = "stop"
    PARK = "park"


@dataclass(frozen=True)
class Decision:
    action: Action
    delay_s: float = 0.0
    reason: str = ""


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

    def decide(self, ending: RunEnd, *, ran_s: float, now: float, jitter: float) -> Decision:
        """What to do after a run that lasted `ran_s` seconds ended with `ending` at time `now`."""
        rules = self.supervision
        if ending is RunEnd.DEVICE:
            self._device_waits += 1
            return Decision(Action.WAIT_DEVICE, _at_least_first(self._device_waits, self.device_poll_s, 0.999),
                            "audio device missing")
        self._device_waits = 0
        if ending is RunEnd.REFUSED:
            return Decision(Action.PARK, reason="the token service refused this device or agent")
        if ran_s >= max(STABLE_RUN_S, max(rules.backoff_s)):
            self._failures = 0
        if rules.restart == "never" or (rules.restart == "on_failure" and ending is RunEnd.CLEAN):
            if ending is RunEnd.CLEAN:
                return Decision(Action.STOP, reason="session ended")
            return Decision(Action.PARK, reason=f"session ended ({ending.value}) and restart is `{rules.restart}`")
        while self._restarts and now - self._restarts[0] > rules.window_s:
            self._restarts.popleft()
        if len(self._restarts) >= rules.max_restarts:
            reason = f"{len(self._restarts)} restarts within {rules.window_s:g} s (max_restarts {rules.max_restarts})"
            return Decision(Action.PARK, reason=reason)
        self._restarts.append(now)
        self._failures += 1
        if ending is RunEnd.FATAL:
            return Decision(Action.RESTART, max(rules.backoff_s), "fatal error, retrying slowly")
        return Decision(Action.RESTART, _at_least_first(self._failures, rules.backoff_s, jitter), ending.value)


def _at_least_first(attempt: int, bounds: tuple[float, float], jitter: float) -> float:
    """A supervisor's wait never goes below its first step: the first restart waits exactly `backoff_s[0]`."""
    return max(min(bounds), backoff_delay_s(attempt, bounds, jitter))
