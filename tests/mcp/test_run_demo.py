"""`runtime run --demo` against the built-in emulator: an agent with a stdio and an HTTP MCP server,
google_search and code_execution answers a spoken request by calling the MCP tools (issue 16, "done when")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.mcp.servers import ROOT, alive, http_server, pids, stdio_entry

MODELS = {"models": [{"id": "gemini-home-live", "like": "gemini-3.8-live",
                      "tools": {"built_in": ["google_search", "code_execution"],
                                "source": "unconfirmed: a test model with both built-in tools"}}]}
SCENARIO = {
    "speech_transcripts": ["Set a timer for five minutes."],
    "rules": [{"when": {"text": "timer"}, "then": [
        {"search": {"query": "five minute timer", "sources": [{"title": "example", "uri": "https://example.com/"}]}},
        {"run_code": {"code": "print(5 * 60)", "output": "300\n"}},
        {"tool_call": {"name": "home_turn_on", "args": {"room": "kitchen"}}},
        {"tool_call": {"name": "ha_thermostat", "args": {"celsius": 21}}},
        {"say_tool_result": "home_turn_on"},
    ]}],
}


def test_runtime_run_answers_a_request_through_its_mcp_servers(tmp_path: Path) -> None:
    agents, marks = tmp_path / "agents", tmp_path / "marks"
    for directory in (tmp_path, agents, marks):
        directory.mkdir(exist_ok=True)
        directory.chmod(0o755)
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(MODELS))
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(SCENARIO))
    with http_server(tmp_path) as url:
        agent = {"model": "gemini-home-live", "tools": [
            stdio_entry(marks, prefix="home_", include=["turn_on"]),
            {"mcp": {"url": url, "prefix": "ha_", "include": ["thermostat"]}},
            {"google_search": {}}, {"code_execution": {}},
        ]}
        (agents / "home.yaml").write_text(yaml.safe_dump(agent))
        (agents / "home.yaml").chmod(0o644)
        env = {**os.environ, "RUNTIME_MODELS": str(tmp_path / "models.yaml")}
        env.pop("GEMINI_API_KEY", None)
        env.pop("GOOGLE_API_KEY", None)
        result = subprocess.run(
            [sys.executable, "-m", "runtime", "run", str(agents), "--backend", "emulator", "--demo",
             "--emulator-scenario", str(tmp_path / "scenario.yaml"), "--state-dir", str(tmp_path / "state")],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=180,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert 'google_search(queries=["five minute timer"])' in out
    assert 'code_execution(code="print(5 * 60)") → {"outcome": "OUTCOME_OK", "output": "300\\n"}' in out
    assert 'home_turn_on(room="kitchen") → {"result": "lights on in kitchen"}' in out
    assert 'ha_thermostat(celsius=21) → {"set_to": 21.0, "unit": "C"}' in out
    assert "agent  │ lights on in kitchen" in out
    assert pids(marks) and not any(alive(pid) for pid in pids(marks)), "the stdio server stopped with the daemon"
