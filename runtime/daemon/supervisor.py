"""One supervisor per agent: runs its session, watches its progress, restarts it by its policy.

A supervisor never lets an exception out: one agent's crash, hang or error is logged, decided on
(`runtime/retry.py`) and ends, at worst, with that agent parked as failed while the others keep running.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Protocol

import anyio
import anyio.abc

from runtime.agentfile.spec import Supervision
from runtime.agentlog import CURRENT_AGENT
from runtime.daemon.events import AgentState, AgentStateChanged, Publish, publish_nowhere
from runtime.errors import AgentRuntimeError, CredentialRefused, DeviceError, FatalSessionError
from runtime.retry import DEVICE_POLL_S, Action, Decision, RestartPolicy, RunEnd

log = logging.getLogger(__name__)


class Runnable(Protocol):
    """What a supervisor runs: `AgentSession`, or a fake in tests."""

    @property
    def last_progress(self) -> float:
        """`time.monotonic()` of the last message in or audio out; the watchdog restarts a stalled session."""
        ...

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; call `task_status.started()` once the session is up."""
        ...


SETTLED_STATES = frozenset(AgentState) - {AgentState.STARTING}


class _StartedSignal(anyio.abc.TaskStatus[None]):
    """A task status that calls back instead of moving the task: the supervisor keeps the session in its body."""

    def __init__(self, on_started: Callable[[], None]) -> None:
        self._on_started = on_started

    def started(self, value: None = None) -> None:
        self._on_started()


def classify(exc: BaseException) -> RunEnd:
    """The kind of ending an exception means; exception groups count by their most telling member."""
    if isinstance(exc, BaseExceptionGroup):
        members = exc.exceptions
        for kind in (DeviceError, CredentialRefused, FatalSessionError):
            if any(classify(m) is _RUN_END[kind] for m in members):
                return _RUN_END[kind]
        return RunEnd.ERROR
    if isinstance(exc, DeviceError):
        return RunEnd.DEVICE
    if isinstance(exc, CredentialRefused):
        return RunEnd.REFUSED
    if isinstance(exc, FatalSessionError):
        return RunEnd.FATAL
    return RunEnd.ERROR


_RUN_END: dict[type[AgentRuntimeError], RunEnd] = {DeviceError: RunEnd.DEVICE, CredentialRefused: RunEnd.REFUSED,
                                                   FatalSessionError: RunEnd.FATAL}


def error_summary(exc: BaseException) -> str:
    """A one-line reason: our own errors speak for themselves, others get their type."""
    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        return error_summary(exc.exceptions[0])
    if isinstance(exc, AgentRuntimeError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


class Supervisor:
    """Keeps one agent running: start, watch, decide, wait, start again; publishes every state it enters."""

    def __init__(
        self,
        name: str,
        supervision: Supervision,
        start: Callable[[], Runnable],
        *,
        publish: Publish = publish_nowhere,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        device_poll_s: tuple[float, float] = DEVICE_POLL_S,
    ) -> None:
        self.name = name
        self.supervision = supervision
        self._start = start
        self._publish = publish
        self._clock = clock
        self._jitter = jitter
        self.policy = RestartPolicy(supervision, device_poll_s=device_poll_s)
        self.state = AgentState.STARTING
        self.detail = ""
        self.settled = anyio.Event()
        """Set once the first start attempt has an outcome (running, waiting, failed...): gates READY=1."""
        self.finished = anyio.Event()
        """Set when `run` has returned, cancelled or not."""
        self.starts = 0

    async def run(self) -> None:
        CURRENT_AGENT.set(self.name)
        try:
            while True:
                started_at = self._clock()
                ending, reason = await self._attempt()
                decision = self.policy.decide(
                    ending, ran_s=self._clock() - started_at, now=self._clock(), jitter=self._jitter()
                )
                if not await self._follow(decision, reason):
                    return
        finally:
            self.settled.set()
            self.finished.set()

    async def _follow(self, decision: Decision, reason: str) -> bool:
        """Apply a decision; False when the supervisor is done."""
        if decision.action is Action.STOP:
            log.info("session ended; not restarting (restart: %s)", self.supervision.restart)
            self._set(AgentState.STOPPED, reason)
            return False
        if decision.action is Action.PARK:
            log.error("parked as failed: %s; last error: %s", decision.reason, reason)
            self._set(AgentState.PARKED, reason)
            return False
        if decision.action is Action.WAIT_DEVICE:
            if self.state is not AgentState.WAITING_DEVICE:
                log.warning("%s; waiting for it (checking again in %g s, then less often)", reason, decision.delay_s)
            self._set(AgentState.WAITING_DEVICE, reason)
        else:
            log.warning("restarting in %.1f s after %s", decision.delay_s, reason)
            self._set(AgentState.BACKOFF, reason)
        await anyio.sleep(decision.delay_s)
        return True

    async def _attempt(self) -> tuple[RunEnd, str]:
        """One run of the session, under the watchdog; returns how it ended and why."""
        hung: list[float] = []
        if self.state is not AgentState.WAITING_DEVICE:
            self._set(AgentState.STARTING)
        self.starts += 1
        try:
            runnable = self._start()
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watch, runnable, tg.cancel_scope, hung)
                try:
                    await runnable.run(task_status=_StartedSignal(self._on_started))
                finally:
                    tg.cancel_scope.cancel()
        except Exception as exc:  # an agent's failure ends here, never in the daemon's task group
            log.debug("session raised", exc_info=exc)
            return classify(exc), error_summary(exc)
        if hung:
            return RunEnd.HUNG, f"no progress for {hung[0]:.0f} s (watchdog_s {self.supervision.watchdog_s:g})"
        return RunEnd.CLEAN, "session ended"

    def _on_started(self) -> None:
        if self.state is AgentState.WAITING_DEVICE:
            log.info("audio device is back")
        log.info("running (start #%d)", self.starts)
        self._set(AgentState.RUNNING)

    async def _watch(self, runnable: Runnable, scope: anyio.CancelScope, hung: list[float]) -> None:
        """The watchdog: a session that neither receives nor plays anything for `watchdog_s` is restarted."""
        limit_s = self.supervision.watchdog_s
        began = self._clock()
        while True:
            await anyio.sleep(min(1.0, limit_s / 4))
            now = self._clock()
            idle_s = now - max(began, runnable.last_progress)
            if idle_s > limit_s:
                log.warning("watchdog: no progress for %.1f s, restarting the session", idle_s)
                hung.append(idle_s)
                scope.cancel()
                return

    def _set(self, state: AgentState, detail: str = "") -> None:
        self.state, self.detail = state, detail
        if state in SETTLED_STATES:
            self.settled.set()
        self._publish(AgentStateChanged(self.name, state, detail))
