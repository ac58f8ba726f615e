"""`runtime run --metrics` as a real subprocess against `runtime emulate` (another subprocess): a close, a goAway,
a tool call and reloads, read back from `/metrics` (parsed by prometheus-client's parser), `/healthz`,
`/status` and `runtime status`. Nothing is timed: every wait is for a counter to arrive.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.daemon.harness import MODEL, Daemon, make_agents, start_daemon

pytestmark = pytest.mark.timeout(120)

REQUEST_WAV = Path(__file__).parents[2] / "runtime" / "data" / "demo-request.wav"
SCENARIO = """\
speech_transcripts: ["Set a timer for five minutes."]
rules:
  - when: {text: timer}
    then:
      - tool_call: {name: set_timer, args: {minutes: 5}}
      - say: "Done."
"""
FAULTS = "- {action: close, at: 0.5, code: 1011, reason: overloaded, conn: 1, once: true}\n"
TOOLS = (
    'def set_timer(minutes: float) -> dict[str, object]:\n    """Start a timer."""\n    return {"minutes": minutes}\n'
)


def kitchen_yaml(instructions: str = "Be brief.") -> str:
    return (
        f"name: kitchen\nmodel: {MODEL}\ninstructions: {instructions}\n"
        "audio:\n  input: {device: 'file:request.wav'}\n  output: {device: 'file:kitchen-out.wav'}\n"
        "tools:\n  - name: set_timer\n    description: Start a timer.\n    python: kitchen_tools:set_timer\n"
    )


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    yield from emulate(tmp_path, SCENARIO, "--faults", write(tmp_path / "faults.yaml", FAULTS), "--go-away-after", "3")


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def emulate(tmp_path: Path, scenario: str, *args: str) -> Iterator[tuple[str, Path]]:
    """`runtime emulate` in a subprocess: its base URL and the certificate to trust."""
    ca = tmp_path / "ca.pem"
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime", "emulate", "--scenario", write(tmp_path / "scenario.yaml", scenario),
         "--ca-out", str(ca), *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stdout is not None
        url = re.search(r"wss://([\d.]+:\d+)", process.stdout.readline())
        assert url, "runtime emulate said where it listens"
        yield f"https://{url.group(1)}", ca
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)


def metrics_url(daemon: Daemon) -> str:
    line = daemon.wait_line(r"metrics on http://")
    found = re.search(r"http://[\d.:\[\]]+", line)
    assert found
    return found.group(0)


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def samples(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, page = get(base + "/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(page.decode())
        for sample in family.samples
    }


def wait_for(base: str, check: Callable[[dict[tuple[str, tuple[tuple[str, str], ...]], float]], bool],
             what: str, timeout_s: float = 40.0) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page = samples(base)
        if check(page):
            return page
        time.sleep(0.2)
    raise AssertionError(f"{what}: never seen; last page:\n{samples(base)}")


def value(page: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return page.get((name, tuple(sorted(labels.items()))), 0.0)


def runtime_status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runtime", "status", *args], capture_output=True, text=True,
                          timeout=30, check=False)


def test_a_close_a_goaway_a_tool_call_and_reloads_are_counted(tmp_path: Path, emulator: tuple[str, Path]) -> None:
    base_url, ca = emulator
    agents = make_agents(tmp_path / "agents", [])
    shutil.copy(REQUEST_WAV, agents / "request.wav")
    (agents / "kitchen_tools.py").write_text(TOOLS)
    (agents / "kitchen.yaml").write_text(kitchen_yaml())
    daemon = start_daemon(agents, tmp_path, "--backend", "gemini", "--base-url", base_url, "--ca-file", str(ca),
                          "--metrics", "127.0.0.1:0", env={"GEMINI_API_KEY": "test-key"})
    try:
        daemon.notify.expect("READY")
        base = metrics_url(daemon)
        kitchen = {"agent": "kitchen"}
        page = wait_for(base, lambda p: value(p, "runtime_tool_calls_total", **kitchen, tool="set_timer",
                                              outcome="ok") >= 1, "the tool call")
        # A handover is counted when it starts and timed when the next connection is ready: wait for both
        # (reading the page in between, under load, saw 2 connections, the third still connecting).
        page = wait_for(base, lambda p: value(p, "runtime_handovers_total", **kitchen, reason="go_away")
                        + value(p, "runtime_handovers_total", **kitchen, reason="deadline") >= 1
                        and value(p, "runtime_handover_seconds_count", **kitchen) >= 1, "a goAway handover, done")
        assert value(page, "runtime_reconnects_total", **kitchen, close_code="1011") == 1
        assert value(page, "runtime_connections_total", **kitchen) >= 3
        assert value(page, "runtime_handover_seconds_count", **kitchen) >= 1
        assert value(page, "runtime_tokens_total", **kitchen, direction="input", modality="all") > 0
        assert value(page, "runtime_mic_frames_sent_total", **kitchen) > 0
        assert value(page, "runtime_build_info", version="0.1.0", sdk_version=_sdk_version()) == 1
        assert value(page, "process_cpu_seconds_total") > 0

        (agents / "kitchen.yaml").write_text(kitchen_yaml("Be briefer."))
        wait_for(base, lambda p: value(p, "runtime_reloads_total", outcome="applied") >= 1, "an applied reload")
        (agents / "kitchen.yaml").write_text(kitchen_yaml() + "voice: {name: [Kore\n")
        page = wait_for(base, lambda p: value(p, "runtime_reloads_total", outcome="refused_invalid") >= 1,
                        "a refused reload")
        assert value(page, "runtime_handovers_total", **kitchen, reason="reload") == 1

        page = wait_for(base, lambda p: value(p, "runtime_agent_state", **kitchen, state="running") == 1, "running")
        assert get(base + "/healthz")[0] == 200
        shown = runtime_status("--address", base.removeprefix("http://"))
        assert shown.returncode == 0, shown.stderr
        assert re.search(r"^kitchen +running ", shown.stdout, re.MULTILINE), shown.stdout
        as_json = json.loads(runtime_status("--address", base.removeprefix("http://"), "--json").stdout)
        [agent] = as_json["agents"]
        assert agent["reconnects_last_hour"] >= 1 and agent["tokens_today"] > 0
        assert agent["connection_age_s"] is not None
    finally:
        assert daemon.stop() == 0
    gone = runtime_status("--address", base.removeprefix("http://"))
    assert gone.returncode == 3 and "no daemon answers" in gone.stderr


BARGE_IN_SCENARIO = """\
speech_transcripts: ["Set a timer for five minutes.", "Stop."]
rules:
  - when: {text: timer}
    then:
      - say: >-
          Sure. Here is a very long answer about timers that goes on and on,
          so that you can interrupt it at any point you like, and you will.
"""


def test_a_barge_in_is_counted(tmp_path: Path) -> None:
    """The user speaks again over the model's long spoken answer: the service interrupts it."""
    emulated = emulate(tmp_path, BARGE_IN_SCENARIO)
    base_url, ca = next(emulated)
    agents = make_agents(tmp_path / "agents", [])
    with wave.open(str(REQUEST_WAV)) as request:
        speech = request.readframes(request.getnframes())
    with wave.open(str(agents / "request.wav"), "wb") as mic:  # the request, 2.5 s of quiet, the request again
        mic.setnchannels(1)
        mic.setsampwidth(2)
        mic.setframerate(16000)
        mic.writeframes(speech + bytes(2 * 40_000) + speech)
    (agents / "kitchen_tools.py").write_text(TOOLS)
    # No echo gate: the speaker is a file, and a gate would keep the microphone shut while the model speaks.
    (agents / "kitchen.yaml").write_text(kitchen_yaml().replace("audio:\n", "audio:\n  echo: none\n"))
    daemon = start_daemon(agents, tmp_path, "--backend", "gemini", "--base-url", base_url, "--ca-file", str(ca),
                          "--metrics", "127.0.0.1:0", env={"GEMINI_API_KEY": "test-key"})
    try:
        daemon.notify.expect("READY")
        base = metrics_url(daemon)
        wait_for(base, lambda p: value(p, "runtime_interruptions_total", agent="kitchen") >= 1, "a barge-in")
    finally:
        assert daemon.stop() == 0
        emulated.close()


def test_health_and_status_while_waiting_for_a_device_and_muted(tmp_path: Path) -> None:
    agents = make_agents(tmp_path / "agents", ["alpha"])
    (agents / "deaf.yaml").write_text(
        f"name: deaf\nmodel: {MODEL}\naudio:\n  input: {{device: 'no-such-microphone-4711'}}\n"
        "  output: {device: 'file:deaf-out.wav'}\n"
    )
    daemon = start_daemon(agents, tmp_path, "--backend", "emulator", "--metrics", "127.0.0.1:0")
    try:
        daemon.notify.expect("READY")
        base = metrics_url(daemon)
        page = wait_for(base, lambda p: value(p, "runtime_agent_state", agent="alpha", state="running") == 1,
                        "alpha running")
        assert value(page, "runtime_agent_state", agent="deaf", state="waiting_for_device") == 1
        assert get(base + "/healthz")[0] == 200, "waiting for a device is healthy"
        daemon.signal(signal.SIGUSR1)
        wait_for(base, lambda p: value(p, "runtime_agent_state", agent="alpha", state="muted") == 1, "muted")
        status, body = get(base + "/healthz")
        assert status == 200, body
        shown = runtime_status("--address", base.removeprefix("http://"))
        assert "waiting_for_device" in shown.stdout and "microphones muted" in shown.stdout
    finally:
        assert daemon.stop() == 0


def test_an_agent_that_cannot_connect_makes_healthz_fail_naming_it(tmp_path: Path) -> None:
    """(A parked agent is named the same way: tests/daemon/test_metrics_recorder.py.)"""
    agents = make_agents(tmp_path / "agents", ["alpha"])
    with socket.socket() as unused:  # a port nobody listens on: every connection attempt is refused
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    daemon = start_daemon(agents, tmp_path, "--backend", "gemini", "--base-url", f"https://127.0.0.1:{port}",
                          "--metrics", "127.0.0.1:0", env={"GEMINI_API_KEY": "test-key"})
    try:
        base = metrics_url(daemon)
        wait_for(base, lambda p: value(p, "runtime_reconnects_total", agent="alpha", close_code="none") >= 1,
                 "a failed connection attempt")
        status, body = get(base + "/healthz")
        assert status == 503
        assert json.loads(body) == {"status": "unhealthy", "agents": {"alpha": "connecting"}}
        shown = runtime_status("--address", base.removeprefix("http://"))
        assert re.search(r"^alpha +connecting ", shown.stdout, re.MULTILINE), shown.stdout
    finally:
        assert daemon.stop() == 0


def _sdk_version() -> str:
    from importlib.metadata import version

    return version("google-genai")
