"""`runtime chat`: a terminal conversation with one agent, against the built-in emulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

AGENT = """\
name: helper
model: gemini-live-2.5-flash-preview
response: text
tools:
  - name: add
    python: helper_tools:add
"""
TOOLS = 'def add(a: int, b: int) -> int:\n    """Add two numbers."""\n    return a + b\n'
SCENARIO = """\
rules:
  - when: {text: sum}
    then:
      - tool_call: {name: add, args: {a: 2, b: 3}}
      - say_tool_result: add
"""


def test_typed_lines_get_answers_and_tool_calls_are_shown(tmp_path: Path) -> None:
    (tmp_path / "helper.yaml").write_text(AGENT)
    (tmp_path / "helper_tools.py").write_text(TOOLS)
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    result = subprocess.run(
        [sys.executable, "-m", "runtime", "chat", str(tmp_path / "helper.yaml"), "--backend", "emulator",
         "--emulator-scenario", str(tmp_path / "scenario.yaml")],
        input="hello there\nwhat is the sum\n", capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("agent" in line and "You said: hello there" in line for line in lines), result.stdout
    assert any("tool" in line and 'add(a=2, b=3) → {"result": 5}' in line for line in lines), result.stdout
    assert "emulator" in result.stderr


def test_an_invalid_agent_file_is_reported_with_its_location(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("model: m\nresponse: smoke\n")
    result = subprocess.run([sys.executable, "-m", "runtime", "chat", str(tmp_path / "bad.yaml")],
                            capture_output=True, text=True, timeout=60, check=False, input="")
    assert result.returncode == 1
    assert "bad.yaml:2" in result.stderr
