"""The metrics recorder, fed the events the daemon and its sessions publish, read back through the registry
(and the page Prometheus gets, parsed by prometheus-client's own parser)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from runtime.agentfile.spec import AgentSpec
from runtime.daemon.events import (
    AgentsHosted,
    AgentState,
    AgentStateChanged,
    AgentStopped,
    FilesRead,
    GateChanged,
    MuteToggled,
    Ready,
    Reloading,
)
from runtime.daemon.metrics import MetricsRecorder, build_registry, close_code, state_label
from runtime.daemon.metrics_server import MetricsServer
from runtime.daemon.records import unhealthy
from runtime.live.events import SessionState, ToolOutcome, Usage


@dataclass(frozen=True)
class Agent:
    spec: AgentSpec
    name: str
    path: Path
    tools: tuple[()] = ()


def hosted(name: str, **spec: object) -> Agent:
    tools = [{"name": "set_timer", "description": "t", "python": "m:f"}]
    return Agent(AgentSpec.model_validate({"model": "gemini-3.8-live", "tools": tools, **spec}), name, Path("x.yaml"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0  # a made-up clock: exact sums

    def __call__(self) -> float:
        return self.now


def recorder_with(clock: Clock) -> MetricsRecorder:
    recorder = MetricsRecorder(wall=clock, clock=clock)
    recorder.apply(AgentsHosted((hosted("kitchen"),)))  # type: ignore[arg-type]
    recorder.apply(AgentStateChanged("kitchen", AgentState.RUNNING))
    return recorder


def value(recorder: MetricsRecorder, name: str, **labels: str) -> float | None:
    return recorder.registry.get_sample_value(name, labels)


def test_a_goaway_handover_counts_and_times_the_switch() -> None:
    clock = Clock()
    recorder = recorder_with(clock)
    recorder.state("kitchen", SessionState.READY)
    recorder.state("kitchen", SessionState.HANDOVER, "resumable point after goAway")
    clock.now += 0.25
    recorder.state("kitchen", SessionState.CONNECTING, "resuming")
    recorder.state("kitchen", SessionState.READY)
    recorder.state("kitchen", SessionState.HANDOVER, "goAway timer")
    assert value(recorder, "runtime_connections_total", agent="kitchen") == 2
    assert value(recorder, "runtime_handovers_total", agent="kitchen", reason="go_away") == 1
    assert value(recorder, "runtime_handovers_total", agent="kitchen", reason="deadline") == 1
    assert value(recorder, "runtime_handover_seconds_count", agent="kitchen") == 1
    assert value(recorder, "runtime_handover_seconds_sum", agent="kitchen") == 0.25


def test_reconnects_are_labelled_by_close_code_and_shown_in_the_status() -> None:
    clock = Clock()
    recorder = recorder_with(clock)
    recorder.state("kitchen", SessionState.RECONNECTING, "close code 1011: internal error")
    recorder.state("kitchen", SessionState.RECONNECTING, "no close code")
    assert value(recorder, "runtime_reconnects_total", agent="kitchen", close_code="1011") == 1
    assert value(recorder, "runtime_reconnects_total", agent="kitchen", close_code="none") == 1
    view = recorder.records["kitchen"].view(clock.now + 10)
    assert view["reconnects_last_hour"] == 2 and view["last_close_code"] == "none"
    assert recorder.records["kitchen"].view(clock.now + 4000)["reconnects_last_hour"] == 0
    assert close_code("close code 1008: API key not valid") == "1008"


def test_tool_outcomes_ok_error_timeout_cancelled_and_a_made_up_name_is_unknown() -> None:
    recorder = recorder_with(Clock())

    def call(name: str, result: dict[str, object], ok: bool) -> None:
        recorder.tool_call("kitchen", ToolOutcome(name, "c1", {}, result, 0.01, ok))

    call("set_timer", {"status": "started"}, True)
    call("set_timer", {"error": "boom"}, False)
    call("set_timer", {"error": "tool set_timer timed out after 5 s"}, False)
    call("rm -rf /", {"error": "unknown tool"}, False)
    recorder.state("kitchen", SessionState.TOOL_CANCELLED, "set_timer (c9)")
    for outcome in ("ok", "error", "timeout", "cancelled"):
        assert value(recorder, "runtime_tool_calls_total", agent="kitchen", tool="set_timer", outcome=outcome) == 1
    assert value(recorder, "runtime_tool_calls_total", agent="kitchen", tool="unknown", outcome="error") == 1
    assert value(recorder, "runtime_tool_call_seconds_count", agent="kitchen", tool="set_timer") == 3


def test_tokens_by_direction_and_modality_and_today() -> None:
    recorder = recorder_with(Clock())
    recorder.usage("kitchen", Usage(prompt_tokens=100, response_tokens=60, total_tokens=160,
                                    by_modality={"audio": 50}))
    assert value(recorder, "runtime_tokens_total", agent="kitchen", direction="input", modality="all") == 100
    assert value(recorder, "runtime_tokens_total", agent="kitchen", direction="output", modality="audio") == 50
    assert value(recorder, "runtime_tokens_total", agent="kitchen", direction="output", modality="unknown") == 10
    assert recorder.records["kitchen"].view(1000.0)["tokens_today"] == 160


def test_wake_conversations_and_their_length() -> None:
    clock = Clock()
    recorder = MetricsRecorder(wall=clock, clock=clock)
    recorder.apply(AgentsHosted((hosted("hall", activity={"mode": "wake_word", "wake": {"model": "hey_jarvis"}}),)))  # type: ignore[arg-type]
    recorder.apply(AgentStateChanged("hall", AgentState.RUNNING))
    recorder.apply(GateChanged("hall", "listening for hey_jarvis"))
    assert value(recorder, "runtime_agent_state", agent="hall", state="listening") == 1
    recorder.apply(GateChanged("hall", "in conversation"))
    assert value(recorder, "runtime_agent_state", agent="hall", state="in_conversation") == 1
    clock.now += 12
    recorder.apply(GateChanged("hall", "listening for hey_jarvis"))
    assert value(recorder, "runtime_wake_detections_total", agent="hall", model="hey_jarvis") == 1
    assert value(recorder, "runtime_conversations_total", agent="hall") == 1
    assert value(recorder, "runtime_conversation_seconds_sum", agent="hall") == 12


def test_reload_outcomes() -> None:
    recorder = recorder_with(Clock())
    for events in (
        [Reloading("edit", 0), FilesRead(0), AgentStopped("kitchen"), AgentStateChanged("kitchen", AgentState.STARTING),
         Ready()],
        [Reloading("edit", 0), FilesRead(1), Ready()],
        [Reloading("SIGHUP", 0), FilesRead(0), Ready()],
    ):
        for event in events:
            recorder.apply(event)
    for outcome in ("applied", "refused_invalid", "unchanged"):
        assert value(recorder, "runtime_reloads_total", outcome=outcome) == 1
    assert value(recorder, "runtime_handovers_total", agent="kitchen", reason="reload") == 1


def test_every_state_label_and_health() -> None:
    clock = Clock()
    recorder = recorder_with(clock)
    assert unhealthy(recorder.records) == {}
    recorder.apply(MuteToggled(True))
    assert value(recorder, "runtime_agent_state", agent="kitchen", state="muted") == 1
    assert unhealthy(recorder.records) == {}
    recorder.apply(AgentStateChanged("kitchen", AgentState.PARKED, "gave up"))
    assert value(recorder, "runtime_agent_state", agent="kitchen", state="parked") == 1
    assert value(recorder, "runtime_agent_state", agent="kitchen", state="muted") == 0
    assert unhealthy(recorder.records) == {"kitchen": "parked"}
    assert recorder.records["kitchen"].view(clock.now)["last_error"] == "gave up"
    assert state_label(AgentState.WAITING_DEVICE, None, "", False) == "waiting_for_device"
    assert state_label(AgentState.BACKOFF, None, "", False) == "connecting"
    assert state_label(AgentState.RUNNING, SessionState.RECONNECTING, "", False) == "connecting"
    assert state_label(AgentState.RUNNING, SessionState.READY, "", False) == "running"
    recorder.apply(AgentStopped("kitchen"))
    assert value(recorder, "runtime_agent_state", agent="kitchen", state="parked") is None


def test_the_page_parses_and_carries_no_user_text_or_secret() -> None:
    canary = "CANARY-7f3a9c"
    recorder = recorder_with(Clock())
    registry = build_registry(recorder, dict)
    recorder.transcript("kitchen", "user", f"my password is {canary}")
    recorder.text("kitchen", canary)
    recorder.tool_call("kitchen", ToolOutcome(canary, canary, {"q": canary}, {"error": canary}, 0.1, False))
    recorder.state("kitchen", SessionState.RECONNECTING, f"close code 1008: {canary}")
    recorder.state("kitchen", SessionState.HANDOVER, canary)
    recorder.state("kitchen", SessionState.TOOL_CANCELLED, f"{canary} ({canary})")
    recorder.usage("kitchen", Usage(1, 1, 2, by_modality={canary: 1}))
    page = generate_latest(registry).decode()
    assert canary not in page and canary.lower() not in page
    names = {family.name for family in text_string_to_metric_families(page)}
    assert {"runtime_build_info", "runtime_agent_state", "runtime_reconnects", "process_cpu_seconds",
            "python_info"} <= names
    server = MetricsServer(registry, recorder)
    health = server.answer("/healthz")
    assert health.status == 503 and b'"kitchen": "connecting"' in health.body, "it was reconnecting"
    assert server.answer("/nope").status == 404


class SpeakerPort:
    """A speaker port's observer slot, as `runtime.audio.devices` ports have it (a fake behind the port)."""

    def __init__(self) -> None:
        self.observer: object = None


def test_a_barge_in_is_timed_from_interrupted_to_the_speakers_silence() -> None:
    clock = Clock()
    recorder = recorder_with(clock)
    port = SpeakerPort()
    recorder.speaker_of = lambda agent: port if agent == "kitchen" else None
    recorder.state("kitchen", SessionState.READY)
    assert port.observer is not None, "the speaker is observed once connected"
    recorder.state("kitchen", SessionState.INTERRUPTED)
    assert value(recorder, "runtime_interruptions_total", agent="kitchen") == 1
    recorder.settle()
    assert value(recorder, "runtime_interrupt_to_silence_seconds_count", agent="kitchen") is None, "still playing"
    port.observer.silence_after_flush(clock.now + 0.03125)  # type: ignore[attr-defined]  # the audio thread
    recorder.settle()
    assert value(recorder, "runtime_interrupt_to_silence_seconds_count", agent="kitchen") == 1
    assert value(recorder, "runtime_interrupt_to_silence_seconds_sum", agent="kitchen") == 0.03125
    recorder.settle()
    assert value(recorder, "runtime_interrupt_to_silence_seconds_count", agent="kitchen") == 1, "timed once"
