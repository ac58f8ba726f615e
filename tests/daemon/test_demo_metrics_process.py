"""`runtime run agents/ --demo --metrics 127.0.0.1:0` on the repository's example agents: after the demo
conversation the daemon keeps serving, and its page declares every family issue 17 names, with the values a
spoken request and one tool call give (the issue's "done when"), parsed by prometheus-client's own parser."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.daemon.harness import start_daemon

pytestmark = pytest.mark.timeout(120)

AGENTS = Path(__file__).parents[2] / "agents"
FAMILIES = (
    "runtime_build_info", "process_cpu_seconds_total", "python_info",
    "runtime_agent_state", "runtime_connections_total", "runtime_handovers_total", "runtime_reconnects_total",
    "runtime_handover_seconds", "runtime_mic_frames_sent_total", "runtime_mic_frames_dropped_total",
    "runtime_speaker_underruns_total", "runtime_interrupt_to_silence_seconds", "runtime_echo_erle_db",
    "runtime_tool_calls_total", "runtime_tool_call_seconds", "runtime_tokens_total",
    "runtime_wake_detections_total", "runtime_conversations_total", "runtime_conversation_seconds",
    "runtime_reloads_total",
)
"""Every family of issue 17's list, as the page names it."""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def read_page(url: str) -> tuple[set[str], Samples]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        page = answer.read().decode()
    families = list(text_string_to_metric_families(page))
    declared = {family.name + ("_total" if family.type == "counter" else "") for family in families}
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in families for sample in family.samples}
    return declared, samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_after_a_demo_conversation_the_page_has_every_family_with_sensible_values(tmp_path: Path) -> None:
    daemon = start_daemon(AGENTS, tmp_path, "--backend", "emulator", "--demo", "--metrics", "127.0.0.1:0")
    try:
        line = daemon.wait_line(r"demo: metrics stay on http://", timeout_s=90)
        found = re.search(r"(http://[\d.:]+)/metrics", line)
        assert found, line
        base = found.group(1)
        assert any("demo: done" in line for line in daemon.lines)
        declared, samples = read_page(base + "/metrics")
        status = subprocess.run([sys.executable, "-m", "runtime", "status", "--address",
                                 base.removeprefix("http://")], capture_output=True, text=True, timeout=30)
    finally:
        assert daemon.stop() == 0, "\n".join(daemon.lines[-20:])

    assert set(FAMILIES) <= declared, f"missing: {sorted(set(FAMILIES) - declared)}"
    kitchen = {"agent": "kitchen"}
    agents = {dict(labels)["agent"] for name, labels in samples if name == "runtime_agent_state"}
    assert agents == {"kitchen", "desk", "minimal"}
    for agent in agents:
        states = [v for (name, labels), v in samples.items()
                  if name == "runtime_agent_state" and dict(labels)["agent"] == agent]
        assert sorted(states) == [0.0] * 6 + [1.0], f"{agent}: exactly one state"
    assert value(samples, "runtime_agent_state", **kitchen, state="running") == 1
    assert value(samples, "runtime_build_info", version="0.1.0", sdk_version=_sdk_version()) == 1
    assert (value(samples, "process_cpu_seconds_total") or 0) > 0
    assert (value(samples, "runtime_connections_total", **kitchen) or 0) >= 1
    assert (value(samples, "runtime_mic_frames_sent_total", **kitchen) or 0) > 0
    assert value(samples, "runtime_mic_frames_dropped_total", **kitchen) == 0
    assert value(samples, "runtime_speaker_underruns_total", **kitchen) is not None
    assert value(samples, "runtime_tool_calls_total", **kitchen, tool="set_timer", outcome="ok") == 1
    assert value(samples, "runtime_tool_call_seconds_count", **kitchen, tool="set_timer") == 1
    assert (value(samples, "runtime_tokens_total", **kitchen, direction="input", modality="all") or 0) > 0
    assert (value(samples, "runtime_tokens_total", **kitchen, direction="output", modality="audio") or 0) > 0
    assert all(value(samples, "runtime_reloads_total", outcome=o) == 0
               for o in ("applied", "refused_invalid", "unchanged"))
    assert not [key for key in samples if key[0] == "runtime_echo_erle_db"], "WAV ports: no echo canceller"
    assert status.returncode == 0, status.stderr
    assert re.search(r"^kitchen +running ", status.stdout, re.MULTILINE), status.stdout


def _sdk_version() -> str:
    from importlib.metadata import version

    return version("google-genai")
