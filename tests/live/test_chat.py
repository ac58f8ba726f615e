"""`runtime chat`: a terminal conversation with one agent, against the built-in emulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

AGENT = """\
name: helper
model: {model}
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


@pytest.mark.parametrize("model", ["gemini-3.8-live", "gemini-3.1-flash-live-preview"])
def test_typed_lines_get_answers_and_tool_calls_are_shown(tmp_path: Path, model: str) -> None:
    """Both models speak only: the text is the transcription; 3.1 refuses `clientContent` mid-session."""
    (tmp_path / "helper.yaml").write_text(AGENT.format(model=model))
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


def test_an_audio_agent_on_3_1_speaks_its_answers_and_shows_their_transcripts(tmp_path: Path) -> None:
    import wave

    (tmp_path / "talker.yaml").write_text("model: gemini-3.1-flash-live-preview\n")
    result = subprocess.run(
        [sys.executable, "-m", "runtime", "chat", str(tmp_path / "talker.yaml"), "--backend", "emulator",
         "--speaker", f"file:{tmp_path / 'reply.wav'}"],
        input="good morning\n", capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert any("agent" in line and "You said: good morning" in line for line in result.stdout.splitlines())
    with wave.open(str(tmp_path / "reply.wav")) as reply:
        assert reply.getnframes() >= len("You said: good morning") * 60 * 24  # 60 ms a character at 24 kHz


def test_an_invalid_agent_file_is_reported_with_its_location(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("model: m\nresponse: smoke\n")
    result = subprocess.run([sys.executable, "-m", "runtime", "chat", str(tmp_path / "bad.yaml")],
                            capture_output=True, text=True, timeout=60, check=False, input="")
    assert result.returncode == 1
    assert "bad.yaml:2" in result.stderr


def test_the_token_server_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "runtime", "token-server", "--port", "0"],
                            capture_output=True, text=True, timeout=60, check=False,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 2
    assert "no API key" in result.stderr


@pytest.mark.anyio
async def test_the_token_server_mints_tokens_the_live_endpoint_accepts(tmp_path: Path) -> None:
    import os

    import anyio
    import httpx2

    from runtime.emulator import EmulatorOptions, serve

    (tmp_path / "bearer").write_text("device-secret\n")
    async with serve(EmulatorOptions(port=0, api_key="long-lived-key")) as emulator:
        env = {**os.environ, "GEMINI_API_KEY": "long-lived-key"}
        server = subprocess.Popen(
            [sys.executable, "-m", "runtime", "token-server", "--port", "0", "--base-url", emulator.base_url,
             "--ca-file", str(emulator.ca_file), "--bearer-file", str(tmp_path / "bearer")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        try:
            assert server.stdout is not None
            line = await anyio.to_thread.run_sync(server.stdout.readline)
            url = line.split()[-1]
            async with httpx2.AsyncClient(trust_env=False) as client:
                refused = await client.post(url)
                minted = await client.post(url, headers={"Authorization": "Bearer device-secret"})
        finally:
            server.terminate()
            server.wait()
    assert refused.status_code == 401
    assert minted.status_code == 200 and minted.json()["token"].startswith("auth_tokens/")


def test_a_missing_speaker_means_no_audio_not_no_chat(tmp_path: Path) -> None:
    (tmp_path / "talker.yaml").write_text("model: gemini-3.8-live\n")
    result = subprocess.run(
        [sys.executable, "-m", "runtime", "chat", str(tmp_path / "talker.yaml"), "--backend", "emulator",
         "--speaker", "no-such-sound-card-anywhere"],
        input="hi\n", capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "no speaker" in result.stderr
    assert "You said: hi" in result.stdout
