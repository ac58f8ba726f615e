"""`runtime tools AGENT.yaml`: what the model will get, with the agent's MCP servers started and stopped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.mcp.servers import ROOT, alive, pids, stdio_entry


def tools_command(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runtime", "tools", str(path), *extra], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_every_tool_the_model_gets_with_its_source_and_no_server_left_running(tmp_path: Path) -> None:
    (tmp_path / "kitchen_tools.py").write_text('def add(a: int, b: int) -> int:\n    """Adds."""\n    return a + b\n')
    agent = {"model": "gemini-3.8-live", "tools": [
        {"name": "add", "python": "kitchen_tools:add"},
        stdio_entry(tmp_path, prefix="home_", include=["turn_on", "pick"]),
        {"google_search": {}},
    ]}
    path = tmp_path / "home.yaml"
    path.write_text(yaml.safe_dump(agent))
    result = tools_command(path, "--json")
    assert result.returncode == 0, result.stderr
    listed = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert list(listed) == ["add", "home_turn_on", "home_pick", "google_search"]
    assert listed["add"]["source"] == "python kitchen_tools:add"
    assert listed["home_turn_on"]["kind"] == "mcp" and "(its tool turn_on)" in listed["home_turn_on"]["source"]
    assert listed["home_turn_on"]["parameters"]["required"] == ["room"]
    assert "oneOf → anyOf at properties.mode.oneOf" in listed["home_pick"]["schema_changes"]
    assert listed["google_search"]["kind"] == "built_in"
    assert pids(tmp_path) and not any(alive(pid) for pid in pids(tmp_path))


def test_a_server_that_does_not_come_up_fails_the_listing(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump({"model": "gemini-3.8-live", "tools": [
        {"mcp": {"command": [sys.executable, "-c", "import sys; sys.exit(4)"]}}]}))
    result = tools_command(path)
    assert result.returncode == 1
    assert "did not come up" in result.stderr
