"""Canary secrets through the whole daemon: `runtime run --demo --verbose` against the emulator, with the API
key the emulator demands and an HTTP tool whose header and query carry a `${secret:...}`, calling a service
that echoes its request back in an error. Everything the process prints and stores is searched."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from runtime.emulator.scenario import CallTool, Rule, Say, SayToolResult, Scenario

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "canary-T0ken-7f3a9c/e1+b2"
API_KEY = "canary-API-key-4d8e2b61c0"


def leaked(text: str, secret: str) -> bool:
    return secret in text or quote(secret, safe="") in text


class EchoHandler(http.server.BaseHTTPRequestHandler):
    """A careless service: its error page repeats the path and credentials it received (kept short: the
    emulator speaks the tool result at real-time pace)."""

    def do_GET(self) -> None:
        body = f"{self.path} {self.headers.get('Authorization')}".encode()
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: this is the service's log, not the daemon's."""


@dataclass
class DaemonRun:
    result: subprocess.CompletedProcess[str]
    state_dir: Path


@pytest.fixture(scope="module", params=["text", "json"])
def daemon_run(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[DaemonRun]:
    from runtime.emulator import EmulatorOptions
    from runtime.emulator.thread import EmulatorThread

    base = tmp_path_factory.mktemp("daemon-canary")
    base.chmod(0o700)
    agents, secrets, state = base / "agents", base / "secrets", base / "state"
    for directory in (agents, secrets, state):
        directory.mkdir(mode=0o700)
    (secrets / "weather_token").write_text(TOKEN + "\n")
    (secrets / "weather_token").chmod(0o600)
    service = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    (agents / "weather.yaml").write_text(
        "model: gemini-3.8-live\n"
        "instructions: You tell the weather.\n"
        "tools:\n"
        "  - name: weather\n"
        "    description: Current weather.\n"
        "    http:\n"
        f'      url: "http://127.0.0.1:{service.server_port}/weather?city={{city}}&key=${{secret:weather_token}}"\n'
        '      headers: {Authorization: "Bearer ${secret:weather_token}"}\n'
        "    parameters: {type: object, properties: {city: {type: string}}, required: [city]}\n"
        "    timeout_s: 5\n"
    )
    (agents / "weather.yaml").chmod(0o600)
    scenario = Scenario(
        speech_transcripts=("What is the weather in Berlin?",),
        rules=(
            Rule("weather", (CallTool("weather", {"city": "Berlin"}), SayToolResult("weather"), Say(f"key {API_KEY}"))),
        ),
    )
    try:
        with EmulatorThread(EmulatorOptions(api_key=API_KEY, scenario_obj=scenario)) as emulator:
            environment = {
                **os.environ,
                "GEMINI_API_KEY": API_KEY,
                "NO_PROXY": "127.0.0.1,localhost",
                "PYTHONUNBUFFERED": "1",
            }
            arguments = ["--backend", "gemini", "--base-url", emulator.base_url, "--ca-file", str(emulator.ca_file)]
            arguments += ["--demo", "--verbose", "--log-format", request.param]
            arguments += ["--secrets-dir", str(secrets), "--state-dir", str(state)]
            result = subprocess.run(
                [sys.executable, "-m", "runtime", "run", *arguments, str(agents)],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env=environment,
                timeout=120,
            )
    finally:
        service.shutdown()
    yield DaemonRun(result, state)


def test_the_daemon_ran_the_tool_against_the_service(daemon_run: DaemonRun) -> None:
    result = daemon_run.result
    assert result.returncode == 0, result.stderr[-3000:]
    assert "weather" in result.stdout and "HTTP 500" in result.stdout, result.stdout
    assert "DEBUG" in result.stderr or '"debug"' in result.stderr.lower()  # --verbose: websockets logs headers


def test_no_secret_in_the_daemon_logs(daemon_run: DaemonRun) -> None:
    stderr = daemon_run.result.stderr
    assert not leaked(stderr, API_KEY), [line for line in stderr.splitlines() if API_KEY in line][:5]
    assert not leaked(stderr, TOKEN), [line for line in stderr.splitlines() if TOKEN in line][:5]


def test_no_secret_in_the_state_directory(daemon_run: DaemonRun) -> None:
    for path in daemon_run.state_dir.rglob("*"):
        if path.is_file() and path.suffix != ".wav":
            text = path.read_bytes().decode("utf-8", errors="replace")
            assert not leaked(text, API_KEY) and not leaked(text, TOKEN), path


def test_no_tool_secret_in_the_printed_conversation(daemon_run: DaemonRun) -> None:
    stdout = daemon_run.result.stdout
    assert not leaked(stdout, TOKEN), stdout


def test_no_secret_in_the_printed_transcript(daemon_run: DaemonRun) -> None:
    stdout = daemon_run.result.stdout
    assert not leaked(stdout, API_KEY), stdout
