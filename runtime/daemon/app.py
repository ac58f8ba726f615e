"""`runtime run` put together: paths, permissions, backend, sessions, the daemon, and the `--demo` run."""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from runtime.audio.ports import AudioIn, AudioOut
from runtime.daemon import systemd
from runtime.daemon.agentdir import DirectoryState, LoadedAgentLike, read_directory
from runtime.daemon.backend import ActiveBackend, BackendError, BackendOptions, bundled, open_endpoint
from runtime.daemon.console import ConversationPrinter, FanOut, LogEvents
from runtime.daemon.daemon import Daemon, DaemonSettings
from runtime.daemon.demo import DemoProgress, pick_demo_agent, run_demo
from runtime.daemon.events import EventChannel, SatelliteChanged
from runtime.daemon.modes import ActivityMode, ActivityModes, ModeTools, WakeWordMode, check_activity
from runtime.daemon.mute_controls import MuteControls
from runtime.daemon.supervisor import Runnable
from runtime.errors import AgentRuntimeError, DeviceError
from runtime.live.endpoint import Endpoint
from runtime.live.events import SessionEvents
from runtime.wake.mute import MuteSwitch

if TYPE_CHECKING:
    from runtime.agentfile.loader import ImportGuard
    from runtime.audio.shared import DeviceHub
    from runtime.daemon.metrics_server import Metering
    from runtime.live.session import AgentSession
    from runtime.retry import RetryPolicy
    from runtime.satellite.link import SatelliteLink

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED = 0, 1


@dataclass(frozen=True)
class RunOptions:
    agents_dir: Path
    state_dir: Path
    backend: BackendOptions = field(default_factory=BackendOptions)
    secrets_dir: Path | None = None
    demo: bool = False
    insecure_permissions: bool = False
    print_conversation: bool = False
    """Print transcripts and tool calls to stdout as they happen (a terminal, `--demo`)."""
    metrics: str | None = None
    """`--metrics HOST:PORT`: serve /metrics, /healthz and /status there; None: no metrics at all."""


def default_agents_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("RUNTIME_AGENTS") or "agents")


def default_state_dir(env: Mapping[str, str], euid: int, home: Path) -> Path:
    """systemd's `StateDirectory=`, else /var/lib/runtime for root, else the XDG state directory."""
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    if euid == 0:
        return Path("/var/lib/runtime")
    return Path(env.get("XDG_STATE_HOME") or home / ".local" / "state") / "runtime"


def open_device_ports(agent: LoadedAgentLike, hub: DeviceHub | None = None) -> tuple[AudioIn, AudioOut]:
    """The agent's microphone and speaker as its file says (`runtime.audio.factory`, or its satellite); with
    the daemon's `hub`, a sound card named by several agents is opened once for all of them."""
    if agent.spec.audio.satellite is not None:
        from runtime.satellite.ports import satellite_ports

        mic, speaker, _link = satellite_ports(agent.spec.audio)
        return mic, speaker
    try:
        factory: Any = importlib.import_module("runtime.audio.factory")
    except ImportError:
        return _file_ports_only(agent)
    ports: tuple[AudioIn, AudioOut] = factory.open_ports(
        agent.spec.audio, base_dir=agent.path.resolve().parent, hub=hub, agent=agent.name
    )
    return ports


def shared_device_ports() -> Callable[[LoadedAgentLike], tuple[AudioIn, AudioOut]]:
    """`open_device_ports` with one hub for the whole daemon (every agent's sessions, every reload)."""
    try:
        shared: Any = importlib.import_module("runtime.audio.shared")
    except ImportError:
        return open_device_ports
    return functools.partial(open_device_ports, hub=shared.DeviceHub())


def _file_ports_only(agent: LoadedAgentLike) -> tuple[AudioIn, AudioOut]:
    from runtime.audio.files import WavFileIn, WavFileOut, file_path

    base_dir = agent.path.resolve().parent
    mic, speaker = file_path(agent.spec.audio.input.device), file_path(agent.spec.audio.output.device)
    if mic is None or speaker is None:
        raise DeviceError("sound card ports are not available in this build; use file: devices")
    return WavFileIn(base_dir / mic), WavFileOut(base_dir / speaker)


class SessionFactory:
    """Builds one `AgentSession` per start of an agent; the demo agent gets the bundled WAV as microphone.

    The agent's activity mode (`modes`) wraps its microphone (behind the daemon's mute switch, or a wake
    gate), adds to its events and says what the supervisor runs.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        state_dir: Path,
        events: SessionEvents,
        *,
        ports: Callable[[LoadedAgentLike], tuple[AudioIn, AudioOut]] = open_device_ports,
        retry: RetryPolicy | None = None,
        modes: ActivityModes | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.modes = modes or ActivityModes()
        self.state_dir = state_dir
        self.events = events
        self.ports = ports
        self.retry = retry
        self.outputs: dict[str, AudioOut] = {}
        """The speaker of each agent's latest session (the demo waits for its reply to play out)."""
        self.sessions: dict[str, AgentSession] = {}
        """Each agent's latest session (the metrics read its microphone and speaker counters)."""
        self.microphones: dict[str, AudioIn] = {}
        """Each agent's latest microphone port, before its mode's wrapper (the metrics read its echo canceller)."""

    def __call__(self, agent: LoadedAgentLike) -> Runnable:
        from runtime.live.session import AgentSession

        mic, audio_out = self.ports(agent)
        mode = self.modes.for_agent(agent)
        audio_in = mode.microphone(mic, audio_out)
        self.outputs[agent.name] = audio_out
        self.microphones[agent.name] = mic
        events = mode.events(self.events)
        link = _satellite_link(mic)
        if link is not None:
            events = _satellite_feedback(link, mode, events, agent)
        session = AgentSession(
            agent.spec,
            name=agent.name,
            base_dir=agent.path.resolve().parent,
            endpoint=self.endpoint,
            audio_in=audio_in,
            audio_out=audio_out,
            state_dir=self.state_dir,
            events=events,
            policy=self.retry,
            tools=agent.tools,
        )
        self.sessions[agent.name] = session
        if session.video is not None:  # the privacy switch shuts the camera with the microphones
            session.video.follow(self.modes.tools.mute)
        runnable = mode.runnable(session)
        if link is None:
            return runnable
        from runtime.satellite.ports import LinkedRunnable

        publish, name = self.modes.tools.publish, agent.name
        link.on_status = lambda status: publish(SatelliteChanged(name, status))
        return LinkedRunnable(runnable, link)  # its connection runs beside the session


def _satellite_link(mic: AudioIn) -> SatelliteLink | None:
    """The satellite behind an agent's microphone, if it has one (imported only then: `wyoming`)."""
    if type(mic).__module__ != "runtime.satellite.ports":
        return None
    from runtime.satellite.ports import SatelliteIn

    return mic.link if isinstance(mic, SatelliteIn) else None


def _satellite_feedback(
    link: SatelliteLink, mode: ActivityMode, events: SessionEvents, agent: LoadedAgentLike
) -> SessionEvents:
    """The conversation told back to the satellite (`runtime.daemon.satellite_feedback`)."""
    from runtime.daemon.satellite_feedback import SatelliteFeedback, gate_feedback

    if isinstance(mode, WakeWordMode) and mode.gate is not None:  # the wake word is heard here, on its stream
        mode.gate.add_listener(gate_feedback(link, Path(agent.spec.activity.wake.model).stem))
    return FanOut(events, SatelliteFeedback(link))


def demo_ports(
    demo_agent: str, request: Path, reply: Path
) -> Callable[[LoadedAgentLike], tuple[AudioIn, AudioOut]]:
    """The demo agent hears the bundled request and speaks into a WAV file; the others keep their devices."""
    from runtime.audio.files import WavFileIn, WavFileOut

    def ports(agent: LoadedAgentLike) -> tuple[AudioIn, AudioOut]:
        if agent.name == demo_agent:
            return WavFileIn(request), WavFileOut(reply)
        return open_device_ports(agent)

    return ports


def metering_for(address: str | None, factory: Callable[[], SessionFactory]) -> Metering | None:
    """`--metrics`, when given (prometheus-client is imported only then: metrics off cost nothing).

    `factory` gives the session factory once it exists, whose sessions and microphones are read per scrape."""
    if address is None:
        return None
    from runtime.daemon.metrics_server import Metering, parse_address

    return Metering(parse_address(address), lambda: factory().sessions, lambda: factory().microphones)


def prepare(options: RunOptions) -> str | None:
    """Checks before anything starts; the reason the daemon cannot start, or None."""
    from runtime.guards.permissions import InsecurePermissionsError, ensure_safe_permissions
    from runtime.guards.secrets import secrets_dir_from_env

    if not options.agents_dir.is_dir():
        return f"agents directory {options.agents_dir} does not exist (give AGENTS_DIR or set $RUNTIME_AGENTS)"
    try:
        ensure_safe_permissions(
            [options.agents_dir], options.insecure_permissions, secrets=[secrets_dir_from_env(options.secrets_dir)]
        )
    except InsecurePermissionsError as exc:
        return str(exc)
    try:
        options.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        return f"cannot create the state directory {options.state_dir}: {exc.strerror} (use --state-dir DIR)"
    return None


def directory_reader(options: RunOptions) -> Callable[[], DirectoryState]:
    from runtime.agentfile.loader import load_agent

    def load(path: Path, *, before_import: ImportGuard | None = None) -> LoadedAgentLike:
        agent = load_agent(path, secrets_dir=options.secrets_dir, before_import=before_import)
        check_activity(agent.spec, agent.path)
        return agent

    return functools.partial(
        read_directory, options.agents_dir, load, check_permissions=not options.insecure_permissions
    )


async def serve(options: RunOptions) -> int:
    """Run the daemon until SIGTERM/SIGINT (or, with `--demo`, until the demo conversation is over)."""
    problem = prepare(options)
    if problem is not None:
        log.error("%s", problem)
        return EXIT_FAILED
    read = directory_reader(options)
    printer = ConversationPrinter(lambda line: print(line, flush=True)) if options.print_conversation else None
    try:
        async with open_endpoint(options.backend) as backend, _session_state(options, backend) as session_dir:
            if not options.demo:
                await _serve_daemon(options, backend.endpoint, session_dir, read, printer)
                return EXIT_OK
            return await _serve_demo(options, backend.endpoint, session_dir, read, printer)
    except (BackendError, AgentRuntimeError) as exc:
        log.error("%s", exc)
        return EXIT_FAILED


@contextlib.asynccontextmanager
async def _session_state(options: RunOptions, backend: ActiveBackend) -> AsyncIterator[Path]:
    """Where sessions keep resumption handles: the state directory, except for an in-process emulator,
    whose handles die with it (resuming one in the next run would only earn a 1008 and a warning)."""
    if not backend.in_process:
        yield options.state_dir
        return
    with tempfile.TemporaryDirectory(prefix="runtime-emulator-sessions-") as directory:
        yield Path(directory)


async def _serve_daemon(
    options: RunOptions,
    endpoint: Endpoint,
    session_dir: Path,
    read: Callable[[], DirectoryState],
    printer: ConversationPrinter | None,
) -> None:
    events: SessionEvents = FanOut(printer, LogEvents()) if printer else LogEvents()
    metering = metering_for(options.metrics, lambda: factory)
    if metering is not None:
        events = FanOut(events, metering.recorder)
    mute, channel = MuteSwitch(), EventChannel()
    modes = ActivityModes(ModeTools(mute, channel.publish))
    factory = SessionFactory(endpoint, session_dir, events, modes=modes, ports=shared_device_ports())
    daemon = Daemon(
        options.agents_dir, read, factory, systemd.Notifier.from_env(),
        channel=channel, mute_controls=MuteControls(mute), watchers=[metering.recorder] if metering else [],
    )
    if metering is None:
        await daemon.run()
    else:
        await metering.run_beside(daemon.run)


async def _serve_demo(
    options: RunOptions,
    endpoint: Endpoint,
    session_dir: Path,
    read: Callable[[], DirectoryState],
    printer: ConversationPrinter | None,
) -> int:
    agent = pick_demo_agent(read())
    if agent is None:
        log.error("--demo needs a valid agent with `activity: {mode: server}` in %s", options.agents_dir)
        return EXIT_FAILED
    reply = options.state_dir / "demo-reply.wav"
    progress = DemoProgress(agent)
    receivers: list[SessionEvents] = [progress, LogEvents()]
    if printer:
        receivers.append(printer)
    metering = metering_for(options.metrics, lambda: factory)
    if metering is not None:
        receivers.append(metering.recorder)
    factory = SessionFactory(
        endpoint, session_dir, FanOut(*receivers), ports=demo_ports(agent, bundled("demo-request.wav"), reply)
    )
    daemon = Daemon(options.agents_dir, read, factory, systemd.Notifier.from_env(), DaemonSettings(),
                    watchers=[metering.recorder] if metering else [])
    print(f"demo: playing {bundled('demo-request.wav').name} into the microphone of `{agent}`; "
          f"the reply goes to {reply}", file=sys.stderr, flush=True)

    def done() -> None:
        if printer:
            printer.flush()
        print(f"demo: done; the agent's spoken reply is in {reply}", file=sys.stderr, flush=True)
        if metering is not None:
            print(f"demo: metrics stay on {metering.address.url('/metrics')} until Ctrl-C or SIGTERM",
                  file=sys.stderr, flush=True)

    async def demo() -> bool:
        return await run_demo(daemon, progress, lambda: factory.outputs.get(agent),
                              keep_serving=done if metering is not None else None)

    ok = await demo() if metering is None else await metering.run_beside(demo)
    if ok and metering is None:
        done()
    elif printer:
        printer.flush()
    return EXIT_OK if ok else EXIT_FAILED


def options_from_env(**given: Any) -> RunOptions:
    """RunOptions with the defaults filled from the environment (used by the command and tests)."""
    env = os.environ
    agents = given.pop("agents_dir", None) or default_agents_dir(env)
    state = given.pop("state_dir", None) or default_state_dir(env, os.geteuid(), Path.home())
    return RunOptions(agents_dir=Path(agents), state_dir=Path(state), **given)


def main(options: RunOptions) -> int:
    return anyio.run(serve, options)
