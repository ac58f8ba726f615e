"""`runtime emulate` as a user starts it: first line, certificate out, record file, clean stop."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from google import genai
from google.genai import errors, types

from tests.emulator.helpers import ANY_MODEL, MODEL, collect_until, text_of, transcript_of, turn_complete

pytestmark = pytest.mark.anyio


async def test_runtime_emulate_serves_the_sdk_and_records_client_messages(tmp_path: Path) -> None:
    ca, record = tmp_path / "ca.pem", tmp_path / "record.jsonl"
    command = [sys.executable, "-m", "runtime", "emulate", "--port", "0", "--ca-out", str(ca), "--record", str(record)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline().rstrip("\n")
        assert first_line.startswith("listening on wss://127.0.0.1:")
        port = int(first_line.rsplit(":", 1)[1])
        assert port > 0
        trust = ssl.create_default_context(cafile=str(ca))
        client = genai.Client(
            api_key="any",
            http_options=types.HttpOptions(base_url=f"https://127.0.0.1:{port}", async_client_args={"ssl": trust}),
        )
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.AUDIO], output_audio_transcription=types.AudioTranscriptionConfig()
        )
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="hi")]))
            assert transcript_of(await collect_until(session, turn_complete)) == "You said: hi"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [sorted(entry) for entry in lines] == [["conn", "mono", "msg", "t"]] * 2
    assert "setup" in lines[0]["msg"] and "client_content" in lines[1]["msg"]
    assert lines[0]["conn"] == lines[1]["conn"] == 1 and 0 <= lines[0]["t"] <= lines[1]["t"]


async def test_runtime_emulate_skips_the_demo_timer_for_an_agent_without_tools_and_says_so_once(
    tmp_path: Path,
) -> None:
    """The bundled demo scenario scripts set_timer for every agent that hears "timer"; the desk agent (text,
    no tools) must never be called, and the log names the skipped function once, not once per turn."""
    from runtime.daemon.backend import bundled

    ca = tmp_path / "ca.pem"
    command = [sys.executable, "-m", "runtime", "emulate", "--port", "0", "--ca-out", str(ca),
               "--scenario", str(bundled("demo-scenario.yaml"))]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().rstrip("\n").rsplit(":", 1)[1])
        trust = ssl.create_default_context(cafile=str(ca))
        client = genai.Client(
            api_key="any",
            http_options=types.HttpOptions(base_url=f"https://127.0.0.1:{port}", async_client_args={"ssl": trust}),
        )
        # desk.yaml: text on gemini-3.8-live, which speaks only: audio with output transcription, no tools
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.AUDIO], output_audio_transcription=types.AudioTranscriptionConfig()
        )
        async with client.aio.live.connect(model="gemini-3.8-live", config=config) as session:
            for _ in range(2):
                await session.send_realtime_input(text="Set a timer for five minutes.")
                answer = await collect_until(session, turn_complete)
                assert transcript_of(answer) == "Done. Your five minute timer is running."
                assert not any(message.tool_call for message in answer)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    warnings = [line for line in stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "set_timer" in warnings[0], stderr


async def test_runtime_emulate_refuses_a_shut_down_model_unless_told_to_accept_any(tmp_path: Path) -> None:
    """The service closes 1008 for a shut-down model; `--accept-any-model` keeps the old leniency."""
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    for flags, refused in (((), True), (("--accept-any-model",), False)):
        ca = tmp_path / "ca.pem"
        command = [sys.executable, "-m", "runtime", "emulate", "--port", "0", "--ca-out", str(ca), *flags]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert process.stdout is not None
            port = int(process.stdout.readline().rstrip("\n").rsplit(":", 1)[1])
            trust = ssl.create_default_context(cafile=str(ca))
            client = genai.Client(api_key="any", http_options=types.HttpOptions(
                base_url=f"https://127.0.0.1:{port}", api_version="v1beta", async_client_args={"ssl": trust}))
            try:
                async with client.aio.live.connect(model="gemini-2.0-flash-live-001", config=config) as session:
                    await session.send_realtime_input(text="still there?")
                    said = text_of(await collect_until(session, turn_complete))
            except errors.APIError as error:
                said = f"{error.code} {error.details}"
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        if refused:
            assert said.startswith("1008 models/gemini-2.0-flash-live-001 is not found for API version v1beta")
        else:
            assert said == "You said: still there?"


def test_runtime_emulate_reports_a_broken_models_file_where_it_is_broken(tmp_path: Path) -> None:
    models = tmp_path / "models.yaml"
    models.write_text("models:\n  - id: gemini-9-live\n    like: gemini-3.8-live\n    limits: {context_window: 5}\n")
    command = [sys.executable, "-m", "runtime", "emulate", "--port", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30,
                            env={**os.environ, "RUNTIME_MODELS": str(models)})
    assert result.returncode == 1
    assert f"{models}:4:14: error: unknown key `context_window`" in result.stderr


def test_runtime_emulate_reports_a_bad_faults_file(tmp_path: Path) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text("- {action: explode}\n")
    command = [sys.executable, "-m", "runtime", "emulate", "--faults", str(faults)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "faults.yaml[0]" in result.stderr and "action" in result.stderr


async def test_a_given_certificate_is_served_and_records_go_to_the_file(tmp_path: Path) -> None:
    from runtime.emulator.tls import write_self_signed
    from tests.emulator.helpers import client_for, emulating

    cert, key = write_self_signed(tmp_path)
    record = tmp_path / "record.jsonl"
    async with emulating(tls_cert=cert, tls_key=key, record_path=record, accept_any_model=True) as emulator:
        assert emulator.ca_file == cert
        config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
        async with client_for(emulator).aio.live.connect(model=ANY_MODEL, config=config) as session:
            await session.send_realtime_input(text="own cert")
            assert text_of(await collect_until(session, turn_complete)) == "You said: own cert"
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [line["msg"] for line in lines] == [entry["msg"] for entry in emulator.records]


def test_the_emulator_never_imports_the_live_client() -> None:
    code = "import sys, runtime.emulator; print([m for m in sys.modules if m.startswith('runtime.live')])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
