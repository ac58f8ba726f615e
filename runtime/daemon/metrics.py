"""The daemon's Prometheus families, and the one recorder that keeps them (and `runtime status`'s view) current.

Nothing here is on a hot path: the recorder hears the daemon's events (from the status reporter, the event
channel's one reader) and the sessions' events (connection changes, tool calls, usage, a few per turn); what
changes per audio block (microphone frames, underruns) is read from the sessions when Prometheus scrapes.

Label values are never user text or secrets (the threat: a scrape endpoint is read by whoever reaches the
port, and a time series lives for weeks): agent names and tool names come from agent files (functions and
built-in tools) or from the MCP servers they name (a tool the session had declared to the model), a tool name
the model made up becomes `unknown`, close codes are numbers, the rest are fixed words.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from runtime.daemon.agentdir import LoadedAgentLike
from runtime.daemon.audio_counters import AudioCollector, EchoCollector, LiveCounters
from runtime.daemon.events import (
    AgentsHosted,
    AgentState,
    AgentStateChanged,
    AgentStopped,
    DaemonEvent,
    FilesRead,
    GateBuilt,
    GateChanged,
    MuteToggled,
    Ready,
    Reloading,
)
from runtime.daemon.interrupts import InterruptTimer
from runtime.daemon.records import AgentRecord
from runtime.live.events import SessionState, ToolOutcome, Usage

STATES = ("running", "connecting", "waiting_for_device", "listening", "in_conversation", "muted", "parked")
"""`runtime_agent_state`'s `state` values; exactly one is 1 for each agent."""

HANDOVER_REASONS = {"resumable point after goAway": "go_away", "goAway timer": "deadline"}
"""The connection's `why` of a handover, as a label; a reload's restart is `reload`."""

SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONVERSATION_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
INTERRUPT_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64)
UNKNOWN = "unknown"
TOOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,127}")
"""A declared tool's name that may be a label value (the Live API's own rule for function names, a bit wider)."""
RUN_TIME_TOOLS_LIMIT = 256
"""Names of run-time (MCP) tools kept per agent at most, so a server listing ever new tools cannot grow the page."""


class Families:
    """Every family this daemon exports, in its own registry (tests build several side by side)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, labels: Iterable[str]) -> Counter:
            return Counter(name, doc, labelnames=tuple(labels), registry=registry)

        def histogram(name: str, doc: str, labels: Iterable[str], buckets: tuple[float, ...]) -> Histogram:
            return Histogram(name, doc, labelnames=tuple(labels), buckets=buckets, registry=registry)

        self.build = Info("runtime_build", "The running daemon's version and its google-genai's.", registry=registry)
        self.state = Gauge("runtime_agent_state", "1 for the agent's current state.", ("agent", "state"),
                           registry=registry)
        self.connections = counter("runtime_connections", "Live connections set up (setupComplete).", ["agent"])
        self.handovers = counter("runtime_handovers", "Planned switches to a new connection.", ["agent", "reason"])
        self.reconnects = counter("runtime_reconnects", "Unplanned connection ends, by close code.",
                                  ["agent", "close_code"])
        self.handover_s = histogram("runtime_handover_seconds", "From deciding to hand over to the new "
                                    "connection's setupComplete.", ["agent"], SECONDS_BUCKETS)
        self.interrupt_s = histogram("runtime_interrupt_to_silence_seconds", "From the service's interrupted to "
                                     "the speaker's silence (sound-card speakers).", ["agent"], INTERRUPT_BUCKETS)
        self.interruptions = counter("runtime_interruptions", "Barge-ins: the user spoke over the model.", ["agent"])
        self.tool_calls = counter("runtime_tool_calls", "Tool calls by outcome.", ["agent", "tool", "outcome"])
        self.tool_s = histogram("runtime_tool_call_seconds", "Tool call durations.", ["agent", "tool"],
                                SECONDS_BUCKETS)
        self.tokens = counter("runtime_tokens", "Tokens from usageMetadata.", ["agent", "direction", "modality"])
        self.wakes = counter("runtime_wake_detections", "Wake words detected.", ["agent", "model"])
        self.conversations = counter("runtime_conversations", "Wake-word conversations begun.", ["agent"])
        self.conversation_s = histogram("runtime_conversation_seconds", "Wake-word conversation lengths.",
                                        ["agent"], CONVERSATION_BUCKETS)
        self.reloads = counter("runtime_reloads", "Reloads by outcome.", ["outcome"])
        for outcome in ("applied", "refused_invalid", "unchanged"):
            self.reloads.labels(outcome)
        self.build.info({"version": _version("live-agent-runtime"), "sdk_version": _version("google-genai")})


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return UNKNOWN


def state_label(state: AgentState, session: SessionState | None, gate: str, muted: bool) -> str:
    """The one `runtime_agent_state` value for what the supervisor, the session and the gate say."""
    if state is AgentState.PARKED:
        return "parked"
    if state is AgentState.WAITING_DEVICE:
        return "waiting_for_device"
    if state is not AgentState.RUNNING or session in (SessionState.CONNECTING, SessionState.RECONNECTING,
                                                      SessionState.ERROR):
        return "connecting"
    if muted:
        return "muted"
    if gate == "in conversation":
        return "in_conversation"
    if gate.startswith("listening"):
        return "listening"
    return "running"


def close_code(detail: str) -> str:
    """`close code 1011: …` → `1011`; a connection that ended without one → `none`."""
    found = re.match(r"close code (\d{3,4})\b", detail)
    return found.group(1) if found else "none"


def tool_outcome(outcome: ToolOutcome) -> Literal["ok", "error", "timeout"]:
    if outcome.ok:
        return "ok"
    error = str(outcome.result.get("error", ""))
    # runtime.live.tools words a timeout this way; it is the one failure told apart.
    return "timeout" if error.startswith(f"tool {outcome.name} timed out after ") else "error"


@dataclass(frozen=True)
class _HostedNames:
    """What label values the hosted agents' files allow: their functions' and built-in tools' names, their
    wake-word models."""

    tools: Mapping[str, frozenset[str]] = field(default_factory=dict)
    wake_models: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, agents: Iterable[LoadedAgentLike]) -> _HostedNames:
        hosted = tuple(agents)
        return cls({a.name: frozenset([*(t.name for _, t in a.spec.functions()), *a.spec.builtin_tools()])
                    for a in hosted},
                   {a.name: Path(a.spec.activity.wake.model).stem for a in hosted})


@dataclass
class _Reload:
    """What happened during the reload being applied (between `Reloading` and `Ready`)."""

    stopped: set[str] = field(default_factory=set)
    restarted: set[str] = field(default_factory=set)
    invalid_files: int = 0


class MetricsRecorder:
    """Keeps the families and each agent's `AgentRecord` from the daemon's and the sessions' events.

    Daemon events come from the status reporter (`apply`), session events through `SessionEvents`' methods;
    both arrive on the event loop.
    """

    def __init__(self, *, wall: Callable[[], float] = time.time, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.families = Families(self.registry)
        self.records: dict[str, AgentRecord] = {}
        self.muted = False
        self._wall, self._clock = wall, clock
        self._names = _HostedNames()
        self._began: dict[tuple[str, str], float] = {}
        """When an agent's handover or conversation began (`("handover" | "conversation", agent)`)."""
        self._reload: _Reload | None = None
        self._run_time_tools: dict[str, set[str]] = {}
        """Per agent: names of tools its session declared beyond its file's functions (its MCP servers' tools)."""
        self.interrupts = InterruptTimer(clock)
        self.speaker_of: Callable[[str], object] = lambda _agent: None
        """The speaker port of an agent's current session (set by `Metering`); None when unknown."""

    def settle(self) -> None:
        """Time the interruptions whose silence the speakers have played since (before a scrape)."""
        for agent, seconds in self.interrupts.settle():
            self.families.interrupt_s.labels(agent).observe(seconds)

    def record(self, agent: str) -> AgentRecord:
        if agent not in self.records:
            self.records[agent] = AgentRecord(agent, since=self._wall())
        return self.records[agent]

    # -- daemon events --------------------------------------------------------------------------------

    def apply(self, event: DaemonEvent) -> None:
        match event:
            case AgentStateChanged(agent=agent, state=state, detail=detail):
                self._supervisor_state(agent, state, detail)
            case AgentStopped(agent=agent):
                self._stopped(agent)
            case AgentsHosted(agents=agents):
                self._names = _HostedNames.of(agents)
            case GateBuilt(agent=agent, status=phrase) | GateChanged(agent=agent, status=phrase):
                self._gate(agent, phrase)
            case MuteToggled(muted=muted):
                self.muted = muted
                self._refresh_all()
            case Reloading():
                self._reload = _Reload()
            case FilesRead(invalid_files=count) if self._reload is not None:
                self._reload.invalid_files = count
            case Ready() if self._reload is not None:
                self._reloaded(self._reload)
                self._reload = None

    def _supervisor_state(self, agent: str, state: AgentState, detail: str) -> None:
        record = self.record(agent)
        if state is AgentState.STARTING and self._reload is not None and agent in self._reload.stopped:
            self._reload.restarted.add(agent)
            self.families.handovers.labels(agent, "reload").inc()
        if state is AgentState.PARKED and detail:
            record.last_error = detail
        record.supervisor = state
        if state is not AgentState.RUNNING:
            record.session = None
            record.connected_at = None
        self._refresh(record)

    def _stopped(self, agent: str) -> None:
        """Forget a stopped agent, unless a reload is restarting it (its record, reconnects and tokens of the
        day go on with its new session)."""
        if self._reload is not None:
            self._reload.stopped.add(agent)
            return
        self._forget(agent)

    def _forget(self, agent: str) -> None:
        self.records.pop(agent, None)
        self._run_time_tools.pop(agent, None)
        self.interrupts.forget(agent)
        for label in STATES:
            self._remove(self.families.state, agent, label)

    def _gate(self, agent: str, phrase: str) -> None:
        record = self.record(agent)
        began = self._began.pop(("conversation", agent), None)
        if phrase == "in conversation":
            self._began["conversation", agent] = self._clock() if began is None else began
            if began is None:
                self.families.wakes.labels(agent, self._names.wake_models.get(agent, UNKNOWN)).inc()
                self.families.conversations.labels(agent).inc()
        elif began is not None:
            self.families.conversation_s.labels(agent).observe(self._clock() - began)
        record.gate = phrase
        self._refresh(record)

    def _reloaded(self, reload: _Reload) -> None:
        if reload.stopped or reload.restarted:
            outcome = "applied"
        elif reload.invalid_files:
            outcome = "refused_invalid"
        else:
            outcome = "unchanged"
        self.families.reloads.labels(outcome).inc()
        for agent in reload.stopped - reload.restarted:
            self._forget(agent)

    # -- session events (runtime.live.events.SessionEvents) --------------------------------------------

    def transcript(self, agent: str, role: Literal["user", "model"], text: str) -> None:
        """Transcripts are user text: never a metric."""

    def text(self, agent: str, text: str) -> None:
        """The model's text: never a metric."""

    def tool_call(self, agent: str, outcome: ToolOutcome) -> None:
        if outcome.declared and TOOL_NAME.fullmatch(outcome.name):
            known = self._run_time_tools.setdefault(agent, set())
            if len(known) < RUN_TIME_TOOLS_LIMIT:
                known.add(outcome.name)
        tool = self._tool_label(agent, outcome.name)
        self.families.tool_calls.labels(agent, tool, tool_outcome(outcome)).inc()
        self.families.tool_s.labels(agent, tool).observe(outcome.duration_s)

    def usage(self, agent: str, usage: Usage) -> None:
        tokens = self.families.tokens
        tokens.labels(agent, "input", "all").inc(usage.prompt_tokens)
        attributed = 0
        for modality, count in usage.by_modality.items():
            label = modality if re.fullmatch(r"[a-z_]{1,16}", modality) else UNKNOWN
            tokens.labels(agent, "output", label).inc(count)
            attributed += count
        if usage.response_tokens > attributed:
            tokens.labels(agent, "output", UNKNOWN).inc(usage.response_tokens - attributed)
        self.record(agent).add_tokens(usage.total_tokens, self._wall())

    def state(self, agent: str, state: SessionState, detail: str = "") -> None:
        record = self.record(agent)
        match state:
            case SessionState.READY:
                self.interrupts.watch(agent, self.speaker_of(agent))
                self.families.connections.labels(agent).inc()
                began = self._began.pop(("handover", agent), None)
                if began is not None:
                    self.families.handover_s.labels(agent).observe(self._clock() - began)
                record.connected_at = self._wall()
            case SessionState.HANDOVER:
                self.families.handovers.labels(agent, HANDOVER_REASONS.get(detail, UNKNOWN)).inc()
                self._began["handover", agent] = self._clock()
            case SessionState.RECONNECTING | SessionState.ERROR:
                code = close_code(detail)
                self.families.reconnects.labels(agent, code).inc()
                record.add_reconnect(self._wall(), code, detail)
                record.connected_at = None
            case SessionState.INTERRUPTED:
                self.families.interruptions.labels(agent).inc()
                self.interrupts.interrupted(agent)
            case SessionState.TOOL_CANCELLED:
                tool = self._tool_label(agent, detail.rsplit(" (", 1)[0])
                self.families.tool_calls.labels(agent, tool, "cancelled").inc()
        if state in (SessionState.READY, SessionState.CONNECTING, SessionState.RECONNECTING, SessionState.ERROR):
            record.session = state
            self._refresh(record)

    # -- state gauge ----------------------------------------------------------------------------------

    def _tool_label(self, agent: str, name: str) -> str:
        if name in self._names.tools.get(agent, frozenset()) or name in self._run_time_tools.get(agent, ()):
            return name
        return UNKNOWN

    def _refresh_all(self) -> None:
        for record in self.records.values():
            self._refresh(record)

    def _refresh(self, record: AgentRecord) -> None:
        label = state_label(record.supervisor, record.session, record.gate, self.muted)
        if label != record.state:
            record.state, record.since = label, self._wall()
        for value in STATES:
            self.families.state.labels(record.agent, value).set(1 if value == label else 0)

    @staticmethod
    def _remove(family: Gauge, *labels: str) -> None:
        with contextlib.suppress(KeyError):  # never set: nothing to remove
            family.remove(*labels)


def build_registry(
    recorder: MetricsRecorder,
    sessions: Callable[[], Mapping[str, LiveCounters]],
    microphones: Callable[[], Mapping[str, object]] = dict,
) -> CollectorRegistry:
    """The registry `/metrics` serves: the recorder's families, the audio counters and the echo cancellers'
    ERLE (`microphones`: each agent's microphone port, under its activity mode's wrapper), the library's
    process and platform collectors."""
    registry = recorder.registry
    registry.register(AudioCollector(sessions))
    registry.register(EchoCollector(microphones))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry
