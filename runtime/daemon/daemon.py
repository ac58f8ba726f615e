"""The daemon: one supervisor per agent in one task group, hot reload, signals and systemd notifications.

It only applies plans: what to start, stop or restart comes from `reload.diff`; how each agent is kept
alive is its `Supervisor`'s business; what a "session" is comes from the factory it is given. What happens
goes on its event channel, whose one reader (`status.StatusReporter`) tells systemd.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.abc

from runtime.daemon import systemd
from runtime.daemon.agentdir import DirectoryState, LoadedAgentLike
from runtime.daemon.events import (
    AgentsHosted,
    AgentState,
    AgentStopped,
    EventChannel,
    FilesRead,
    Ready,
    Reloading,
    Starting,
    Stopping,
)
from runtime.daemon.mute_controls import MuteControls
from runtime.daemon.reload import AgentConfig, Plan, diff, keep_last_good, watch_changes
from runtime.daemon.status import EventWatcher, StatusReporter
from runtime.daemon.supervisor import Runnable, Supervisor

log = logging.getLogger(__name__)

MakeRunnable = Callable[[LoadedAgentLike], Runnable]

WATCH_RETRY_S = 2.0
Config = AgentConfig[LoadedAgentLike]


@dataclass
class _Hosted:
    config: Config
    supervisor: Supervisor
    scope: anyio.CancelScope


@dataclass
class DaemonSettings:
    settle_timeout_s: float = 20.0
    """READY=1 is sent once every agent settled (running, waiting for its device, failed) or after this."""
    stop_timeout_s: float = 5.0
    """How long a stopping agent may take to close its session before the daemon moves on."""
    watch: bool = True
    """Watch the directory for changes (SIGHUP reloads either way)."""


class Daemon:
    """Runs every agent of a directory until asked to stop."""

    def __init__(
        self,
        directory: Path,
        read: Callable[[], DirectoryState],
        factory: MakeRunnable,
        notifier: systemd.Notifier,
        settings: DaemonSettings | None = None,
        *,
        channel: EventChannel | None = None,
        mute_controls: MuteControls | None = None,
        watchers: Sequence[EventWatcher] = (),
    ) -> None:
        """`channel`: where the agents' sessions publish too (their wake gates); a new one when not given.
        `mute_controls`: SIGUSR1 and the agents' mute buttons (none in `--demo`). `watchers`: kept current
        from the daemon's events by its status reporter (the metrics)."""
        self.directory = directory
        self.channel = channel or EventChannel()
        self.reporter = StatusReporter(notifier, mute_controls, watchers)
        self._read = read
        self._factory = factory
        self._notifier = notifier
        self.settings = settings or DaemonSettings()
        self._hosted: dict[str, _Hosted] = {}
        self._invalid: dict[str, str] = {}
        self._lock = anyio.Lock()
        self._stop = anyio.Event()
        self._startup = anyio.CancelScope()
        self._tg: anyio.abc.TaskGroup | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as reporting:
            await reporting.start(self.reporter.run, self.channel)
            try:
                await self._run_agents(task_status)
            finally:
                self.channel.close()  # the reporter handles what is left on the channel, then returns
        log.info("stopped")

    async def _run_agents(self, task_status: anyio.abc.TaskStatus[None]) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._signal_loop, signals)
                if self.settings.watch:
                    tg.start_soon(self._watch_loop)
                started_at = time.monotonic()
                self.channel.publish(Starting())
                with self._startup:  # a stop request during start-up does not wait for slow agents to settle
                    await self.reload("start", initial=True)
                self.channel.publish(Ready(startup_ms=(time.monotonic() - started_at) * 1000))
                await self.channel.flush()
                interval_s = systemd.watchdog_interval_s(os.environ, os.getpid())
                if interval_s is not None:
                    tg.start_soon(self._watchdog_loop, interval_s)
                task_status.started()
                await self._stop.wait()
                self.channel.publish(Stopping(len(self._running())))
                await self.channel.flush()
                log.info("stopping %d agents", len(self._running()))
                tg.cancel_scope.cancel()

    def stop(self) -> None:
        self._stop.set()
        self._startup.cancel()

    async def _signal_loop(self, signals: AsyncIterator[signal.Signals]) -> None:
        async for signum in signals:
            if signum == signal.SIGHUP:
                log.info("SIGHUP: reloading")
                assert self._tg is not None
                self._tg.start_soon(self._forced_reload)
            else:
                log.info("%s: shutting down", signal.Signals(signum).name)
                self.stop()

    async def _forced_reload(self) -> None:
        await self.reload("SIGHUP", force=True)

    async def _watch_loop(self) -> None:
        """Reload on every burst of edits; if watching fails (directory replaced), retry: SIGHUP still works."""
        while True:
            try:
                async for paths in watch_changes(self.directory):
                    names = ", ".join(sorted(Path(p).name for p in paths))
                    await self.reload(f"changed: {names}")
            except Exception as exc:  # the watcher is a convenience; it must never take the agents down
                log.warning("watching %s failed (%s); retrying in %g s", self.directory, exc, WATCH_RETRY_S)
            await anyio.sleep(WATCH_RETRY_S)

    async def _watchdog_loop(self, interval_s: float) -> None:
        """WATCHDOG=1 from the event loop itself: if the loop blocks, the pings stop and systemd restarts us."""
        while True:
            self._notifier.send(systemd.WATCHDOG_MESSAGE)
            await anyio.sleep(interval_s)

    # -- reload ------------------------------------------------------------------------------------------

    async def reload(self, reason: str, *, force: bool = False, initial: bool = False) -> Plan:
        """Read the directory, keep last good configs of broken files, and apply the difference."""
        async with self._lock:
            began = time.monotonic()
            if not initial:
                self.channel.publish(Reloading(reason, systemd.monotonic_usec()))
            try:
                state = await anyio.to_thread.run_sync(self._read)
            except OSError as exc:
                log.error("cannot read %s (%s); the running agents keep going", self.directory, exc)
                if not initial:
                    self.channel.publish(Ready())
                    await self.channel.flush()
                return Plan()
            self._report_errors(state)
            current = {name: hosted.config for name, hosted in self._hosted.items()}
            wanted = keep_last_good(current, state.configs, state.failed_paths)
            plan = diff(
                {n: c.fingerprint for n, c in current.items()}, {n: c.fingerprint for n, c in wanted.items()}
            )
            if force:
                plan = _with_parked(plan, self._hosted)
            await self._apply(plan, wanted)
            self.channel.publish(AgentsHosted(tuple(hosted.config.agent for hosted in self._hosted.values())))
            if not initial:
                log.info("reload (%s): %s in %.0f ms", reason, plan, (time.monotonic() - began) * 1000)
                self.channel.publish(Ready())
            await self.channel.flush()
            return plan

    def _report_errors(self, state: DirectoryState) -> None:
        """Each broken file is reported once per distinct error, not again on every unrelated reload."""
        now = {str(e.location.path): e.render() for e in state.errors}
        for path, text in sorted(now.items()):
            if self._invalid.get(path) != text:
                kept = any(h.config.path.resolve() == Path(path).resolve() for h in self._hosted.values())
                suffix = " (the agent keeps running on its last good version)" if kept else " (skipped)"
                log.error("%s%s", text, suffix)
        self._invalid = now
        self.channel.publish(FilesRead(len(now)))

    async def _apply(self, plan: Plan, wanted: Mapping[str, Config]) -> None:
        async with anyio.create_task_group() as stopping:
            for name in plan.stop + plan.restart:
                stopping.start_soon(self._stop_agent, name)
        assert self._tg is not None
        for name, hosted in list(self._hosted.items()):
            if name in wanted and hosted.config.path != wanted[name].path:
                hosted.config = wanted[name]  # renamed file, same agent: nothing to restart
        starting = []
        for name in plan.start + plan.restart:
            starting.append(await self._start_agent(wanted[name]))
        with anyio.move_on_after(self.settings.settle_timeout_s):
            for supervisor in starting:
                await supervisor.settled.wait()

    async def _start_agent(self, config: Config) -> Supervisor:
        assert self._tg is not None
        supervisor = Supervisor(
            config.name,
            config.agent.spec.supervision,
            lambda: self._factory(config.agent),
            publish=self.channel.publish,
        )
        scope = await self._tg.start(self._host, supervisor)
        self._hosted[config.name] = _Hosted(config, supervisor, scope)
        return supervisor

    async def _host(self, supervisor: Supervisor, *, task_status: anyio.abc.TaskStatus[anyio.CancelScope]) -> None:
        with anyio.CancelScope() as scope:
            task_status.started(scope)
            await supervisor.run()

    async def _stop_agent(self, name: str) -> None:
        hosted = self._hosted.pop(name)
        hosted.scope.cancel()
        with anyio.move_on_after(self.settings.stop_timeout_s) as waited:
            await hosted.supervisor.finished.wait()
        if waited.cancelled_caught:
            log.warning("%s: did not stop within %g s", name, self.settings.stop_timeout_s)
        self.channel.publish(AgentStopped(name))

    # -- status ------------------------------------------------------------------------------------------

    def _running(self) -> list[str]:
        return [n for n, h in self._hosted.items() if h.supervisor.state is not AgentState.PARKED]

    def states(self) -> dict[str, AgentState]:
        return {name: hosted.supervisor.state for name, hosted in self._hosted.items()}

    def status(self) -> str:
        """What `STATUS=` says now (as of the last event its reporter handled)."""
        return self.reporter.status()


def _with_parked(plan: Plan, hosted: Mapping[str, _Hosted]) -> Plan:
    """A forced reload (SIGHUP) also gives parked agents a fresh start."""
    parked = tuple(
        n for n, h in hosted.items()
        if h.supervisor.state in (AgentState.PARKED, AgentState.STOPPED) and n not in plan.stop + plan.restart
    )
    return Plan(start=plan.start, stop=plan.stop, restart=tuple(sorted(plan.restart + parked)))

