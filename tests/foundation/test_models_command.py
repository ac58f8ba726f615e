"""`runtime models` and `runtime validate --models` as users run them: a real subprocess, and the real SDK
listing the emulator's models over TLS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.emulator import EmulatorOptions
from runtime.emulator.thread import EmulatorThread
from tests.foundation.helpers import write

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-key-4417"


def runtime(*args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "CREDENTIALS_DIRECTORY", "RUNTIME_BASE_URL",
                                  "RUNTIME_MODELS")}
    return subprocess.run([sys.executable, "-m", "runtime", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env={**environment, **env}, timeout=120)


def test_models_prints_the_catalogue_without_asking_the_service() -> None:
    result = runtime("models")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("gemini-")}
    assert "shut down 2025-12-09 -> gemini-2.5-flash-native-audio-preview-12-2025" in rows["gemini-2.0-flash-live-001"]
    assert "3.x live" in rows["gemini-3.8-live"] and "131072" in rows["gemini-3.8-live"]
    assert "the service was not asked" in result.stdout


def test_models_json_carries_every_fact_and_its_source() -> None:
    document = json.loads(runtime("models", "--json").stdout)
    models = {entry["id"]: entry for entry in document["models"]}
    assert models["gemini-live-2.5-flash-preview"]["status"] == "shut_down"
    live_31 = models["gemini-3.1-flash-live-preview"]
    assert live_31["input"]["client_content"] == "initial_history_only"
    assert live_31["reply"]["text_refusal"]["source"] == ["googleapis/python-genai#2238"]
    assert document["listing"] is None


def test_models_marks_what_the_service_offers_and_what_the_catalogue_lacks(tmp_path: Path) -> None:
    extra = tmp_path / "models.yaml"
    extra.write_text("models:\n  - {id: gemini-9-live, like: gemini-3.8-live}\n")
    with EmulatorThread(EmulatorOptions(api_key=KEY)) as emulator:
        result = runtime("models", "--json", "--models", extra, "--base-url", emulator.base_url,
                         "--ca-file", emulator.ca_file, GEMINI_API_KEY=KEY)
        table = runtime("models", "--base-url", emulator.base_url, "--ca-file", emulator.ca_file,
                        GEMINI_API_KEY=KEY)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)["listing"]
    assert listing["endpoint"] == emulator.base_url
    assert listing["not_offered"] == ["gemini-9-live"]
    assert listing["not_in_catalogue"] == ["gemini-3.5-live-translate-preview", "gemini-3.5-transcribe-live"]
    assert "gemini-3.8-live" in listing["offered"] and "gemini-3.8-flash" not in listing["offered"]
    assert "not in the catalogue (describe them in a models file): gemini-3.5-live-translate-preview" in table.stdout
    assert KEY not in result.stdout + result.stderr + table.stdout + table.stderr


def test_models_reports_a_refused_key_without_a_traceback() -> None:
    with EmulatorThread(EmulatorOptions(api_key=KEY)) as emulator:
        result = runtime("models", "--base-url", emulator.base_url, "--ca-file", emulator.ca_file,
                         GEMINI_API_KEY="wrong-key-0001")
    assert result.returncode == 1
    assert result.stderr == ("runtime models: the service refused the model listing: 400 "
                             "API key not valid. Please pass a valid API key.\n")
    assert "wrong-key-0001" not in result.stdout + result.stderr


def test_validate_refuses_a_shut_down_model_and_names_its_replacement(tmp_path: Path) -> None:
    path = write(tmp_path, "model: gemini-2.0-flash-live-001\n")
    result = runtime("validate", path)
    assert result.returncode == 1
    assert result.stdout == (
        f"{path}:1:8: error: `gemini-2.0-flash-live-001` was shut down on 2025-12-09: the service refuses it\n"
        "  hint: use `gemini-2.5-flash-native-audio-preview-12-2025`, its replacement; "
        "the newest Live model is `gemini-3.8-live`\n"
    )


@pytest.mark.parametrize("how", ["option", "environment"])
def test_validate_reads_a_models_file(tmp_path: Path, how: str) -> None:
    models = tmp_path / "models.yaml"
    models.write_text("models:\n  - {id: gemini-9-live, like: gemini-3.8-live}\n")
    agent = write(tmp_path, "model: gemini-9-live\n")
    if how == "option":
        result = runtime("validate", "--strict", "--models", models, agent)
    else:
        result = runtime("validate", "--strict", agent, RUNTIME_MODELS=str(models))
    assert (result.returncode, result.stdout) == (0, "")


def test_validate_reports_a_broken_models_file_where_it_is_broken(tmp_path: Path) -> None:
    models = tmp_path / "models.yaml"
    models.write_text("models:\n  - id: gemini-9-live\n    like: gemini-3.8-live\n    limits: {context_window: 9}\n")
    result = runtime("validate", "--models", models, write(tmp_path, "model: gemini-3.8-live\n"))
    assert result.returncode == 1
    assert result.stdout == (f"{models}:4:14: error: unknown key `context_window` in `models[0].limits`\n"
                             "  hint: did you mean `context_window_tokens`?\n")
    assert runtime("models", "--models", models).returncode == 1
