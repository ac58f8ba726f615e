"""`runtime doctor --live --trace` against the emulator on 127.0.0.1: one session per model, a trace with no
secret, audio or words in it (canaries), and a trace the conformance suite replays green."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.emulator import Emulator, EmulatorOptions, EmulatorThread, parse_scenario
from tests.conformance.replay import load_trace, replay
from tests.doctor.helpers import (
    CANARY_ARG,
    CANARY_KEY,
    CANARY_TEXT,
    checks_of,
    clean_env,
    run_doctor,
    write_agent,
)

KITCHEN = f"""model: gemini-3.8-live
instructions: You are the kitchen assistant {CANARY_TEXT}.
audio: {{input: {{device: null}}, output: {{device: null}}}}
tools:
  - name: weather
    description: The weather in a city, {CANARY_TEXT}.
    http: {{url: "http://127.0.0.1:9/weather?city={{city}}"}}
    parameters: {{type: object, properties: {{city: {{type: string}}}}, required: [city]}}
"""
DESK = f"""model: gemini-2.5-flash-native-audio-preview-12-2025
instructions: Desk agent {CANARY_TEXT}.
response: text
audio: {{input: {{device: null}}, output: {{device: null}}}}
"""
SCENARIO = {"rules": [
    {"when": {"text": "call the function weather"},
     "then": [{"say": f"Checking {CANARY_TEXT}."}, {"tool_call": {"name": "weather", "args": {"city": CANARY_ARG}}},
              {"say_tool_result": "weather"}]},
    {"when": {"text": "connection check"}, "then": [{"say": f"Hello {CANARY_TEXT}."}]},
]}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    options = EmulatorOptions(scenario_obj=parse_scenario(SCENARIO), api_key=CANARY_KEY, audio_chunk_ms=20)
    with EmulatorThread(options) as running:
        yield running


def doctor_live(emulator: Emulator, agents: Path, *extra: str) -> tuple[dict[str, dict[str, object]], int]:
    env = clean_env(GEMINI_API_KEY=CANARY_KEY)
    result = run_doctor(str(agents), "--json", "--live", "--base-url", emulator.base_url, "--ca-file",
                        str(emulator.ca_file), *extra, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return checks_of(result), result.returncode


def test_live_sessions_one_per_model_with_tool_call_and_handle(emulator: Emulator, tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    write_agent(agents, "kitchen", KITCHEN)
    write_agent(agents, "desk", DESK)
    checks, _ = doctor_live(emulator, agents)
    for model in ("gemini-3.8-live", "gemini-2.5-flash-native-audio-preview-12-2025"):
        session = checks[f"session on {model}"]
        assert session["status"] == "pass", session
        assert "setupComplete" in str(session["detail"]) and "first reply" in str(session["detail"])
        assert checks[f"{model} resumption"]["status"] == "pass"
    assert checks["gemini-3.8-live tool call"]["status"] == "pass"
    assert checks[f"TLS to 127.0.0.1:{emulator.port}"]["status"] == "pass"
    assert emulator.connections == 2


def test_a_refused_key_fails_the_session_with_the_close_and_a_hint(emulator: Emulator, tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    write_agent(agents, "kitchen", KITCHEN)
    env = clean_env(GEMINI_API_KEY="not-the-canary-key")
    result = run_doctor(str(agents), "--json", "--live", "--base-url", emulator.base_url, "--ca-file",
                        str(emulator.ca_file), env=env)
    assert result.returncode == 1
    session = checks_of(result)["session on gemini-3.8-live"]
    assert session["status"] == "fail" and "1008" in session["detail"] and "key" in session["hint"]


def test_the_trace_holds_no_key_no_words_no_audio_and_replays_green(emulator: Emulator, tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    write_agent(agents, "kitchen", KITCHEN)
    write_agent(agents, "desk", DESK)
    trace = tmp_path / "trace.jsonl"
    checks, _ = doctor_live(emulator, agents, "--trace", str(trace))
    assert checks["gemini-3.8-live tool call"]["status"] == "pass"
    text = trace.read_text()
    for canary in (CANARY_KEY, CANARY_TEXT, CANARY_ARG, *encoded(CANARY_KEY), *encoded(CANARY_TEXT)):
        assert canary not in text, canary
    for audio in sent_audio(emulator):  # the model's audio: every chunk the emulator sent, as it went out
        assert audio not in text
    for handle in sent_handles(emulator):
        assert handle not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["trace"]["kind"] == "captured"
    kinds = {(line.get("from"), next(iter(line.get("msg") or line.get("close") or {"?": 0}))) for line in lines[1:]}
    assert ("client", "setup") in kinds and ("server", "setupComplete") in kinds and ("server", "toolCall") in kinds
    assert {line["conn"] for line in lines[1:]} == {1, 2}
    assert "<audio:" in text and "<text:" in text and "<handle:" in text
    assert replay(load_trace(trace)) == []


def encoded(value: str) -> list[str]:
    raw = value.encode()
    return [base64.b64encode(raw).decode().rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")]


def sent_audio(emulator: Emulator) -> list[str]:
    found = []
    for entry in emulator.sent:
        parts = ((entry["msg"].get("serverContent") or {}).get("modelTurn") or {}).get("parts") or []
        found += [part["inlineData"]["data"] for part in parts if "inlineData" in part]
    assert found, "the emulator sent no audio: the canary would prove nothing"
    return found


def sent_handles(emulator: Emulator) -> list[str]:
    handles = [(entry["msg"].get("sessionResumptionUpdate") or {}).get("newHandle") for entry in emulator.sent]
    return [handle for handle in handles if handle]
