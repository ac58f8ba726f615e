"""Semantic checks (what a JSON Schema cannot say), each located at the key or value at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.agentfile import catalogue
from runtime.agentfile.loader import load_agent
from tests.foundation.helpers import MODEL, failures, only_error, position, write

M = f"model: {MODEL}\n"
NATIVE = "model: gemini-2.5-flash-native-audio-preview-12-2025\n"
LIVE_31 = "model: gemini-3.1-flash-live-preview\n"
HTTP = "    http: {url: 'http://127.0.0.1:8080/x'}\n    description: d\n"

CASES = [
    (
        "target-not-below-trigger",
        M + "context:\n  compression:\n    trigger_tokens: 10000\n    target_tokens: 10000\n",
        "5:20",
        "`target_tokens` (10000) must be below `trigger_tokens` (10000)",
    ),
    (
        "trigger-above-3.8-window",
        M + "context:\n  compression: {trigger_tokens: 140000}\n",
        "3:33",
        "larger than the context window of `gemini-3.8-live` (131072 tokens)",
    ),
    (
        "trigger-above-native-window",
        NATIVE + "context:\n  compression: {trigger_tokens: 200000}\n",
        "3:33",
        "(131072 tokens)",
    ),
    (
        "scheduling-without-non-blocking",
        M + "tools:\n  - name: t\n" + HTTP + "    scheduling: when_idle\n",
        "6:5",
        "`scheduling` only applies to tools with `behavior: non_blocking`",
    ),
    (
        "duplicate-tool-names",
        M + "tools:\n  - name: t\n" + HTTP + "  - name: t\n" + HTTP,
        "6:11",
        "tool name `t` is used twice",
    ),
    (
        "file-url",
        M + "tools:\n  - name: t\n    http: {url: 'file:///etc/passwd'}\n",
        "4:17",
        "`file:` URLs are not allowed",
    ),
    ("ftp-url", M + "tools:\n  - name: t\n    http:\n      url: ftp://host/x\n", "5:12", "`ftp:` URLs are not allowed"),
    ("url-without-scheme", M + "tools:\n  - name: t\n    http: {url: '127.0.0.1/x'}\n", "4:17", "without a scheme"),
    ("url-without-host", M + "tools:\n  - name: t\n    http: {url: 'http:///x'}\n", "4:17", "has no host"),
    (
        "metadata-address",
        M + "tools:\n  - name: t\n    http: {url: 'http://169.254.169.254/latest'}\n",
        "4:17",
        "169.254.169.254 is in 169.254.0.0/16 (link-local or cloud metadata)",
    ),
    ("decimal-metadata-address", M + "tools:\n  - name: t\n    http: {url: 'http://2852039166/'}\n", "4:17", "169.254"),
    (
        "metadata-host-name",
        M + "tools:\n  - name: t\n    http: {url: 'http://metadata.google.internal/'}\n",
        "4:17",
        "is a cloud metadata service",
    ),
    (
        "credentials-in-url",
        M + "tools:\n  - name: t\n    http: {url: 'http://u:p@127.0.0.1/'}\n",
        "4:17",
        "credentials in the URL",
    ),
    (
        "placeholder-not-a-parameter",
        M + "tools:\n  - name: t\n    description: d\n    http: {url: 'http://h/w?city={city}'}\n",
        "5:17",
        "the placeholder `{city}` is not a parameter of tool `t`",
    ),
    (
        "placeholder-in-a-nested-body-string",
        M + "tools:\n  - name: t\n    description: d\n    http:\n      url: 'http://h/w'\n      method: POST\n"
        "      body:\n        where:\n          cities: [Paris, '{city}']\n",
        "10:27",
        "the placeholder `{city}` is not a parameter of tool `t`",
    ),
    (
        "unbalanced-brace-in-a-nested-body-string",
        M + "tools:\n  - name: t\n    description: d\n    http:\n      url: 'http://h/w'\n      method: POST\n"
        "      body:\n        where: {label: 'timer {minutes'}\n",
        "9:24",
        "`body.where.label`: an opening `{` without its pair",
    ),
    (
        "placeholder-in-a-header",
        M + "tools:\n  - name: t\n    description: d\n    http:\n      url: 'http://h/w'\n"
        "      headers: {X-City: '{city}'}\n",
        "7:25",
        "the placeholder `{city}` is not a parameter of tool `t`",
    ),
    (
        "not-a-placeholder-in-the-url",
        M + "tools:\n  - name: t\n    description: d\n    http: {url: 'http://h/w?city={city.name}'}\n",
        "5:17",
        "`url`: `{city.name}` is not a placeholder",
    ),
    (
        "parameters-not-an-object-schema",
        M + "tools:\n  - name: t\n" + HTTP + "    parameters: {type: string}\n",
        "6:17",
        "`type: object`",
    ),
    (
        "parameters-invalid-json-schema",
        M + "tools:\n  - name: t\n" + HTTP + "    parameters:\n      type: object\n      required: 3\n",
        "8:17",
        "not a valid JSON Schema",
    ),
    ("video-switch-without-source", M + "session:\n  video: true\n", "3:10", "does not say where frames come from"),
    (
        "affective-dialog-on-3.8",
        M + "session: {affective_dialog: true}\n",
        "2:29",
        "`gemini-3.8-live` does not support affective dialog",
    ),
    (
        "proactive-audio-on-3.1",
        LIVE_31 + "session: {proactive_audio: true}\n",
        "2:28",
        "does not support proactive audio",
    ),
    ("thinking-budget-on-3.8", M + "generation: {thinking_budget: 512}\n", "2:31", "thinks on its own"),
    ("thinking-budget-on-3.1", LIVE_31 + "generation: {thinking_budget: 0}\n", "2:31", "sets thinking by level"),
    (
        "non-blocking-tool-on-3.1",
        LIVE_31 + "tools:\n  - name: t\n" + HTTP + "    behavior: non_blocking\n",
        "6:15",
        "`gemini-3.1-flash-live-preview` calls functions synchronously only",
    ),
]


@pytest.mark.parametrize(("text", "where", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_semantic_error_is_located(tmp_path: Path, text: str, where: str, message: str) -> None:
    error = only_error(write(tmp_path, text))
    assert position(error) == where, error.render()
    assert message in error.message, error.render()


def test_private_networks_can_be_allowed(tmp_path: Path) -> None:
    text = (
        M
        + "tools:\n  - name: t\n    description: d\n"
        + "    http: {url: 'http://169.254.1.1/', allow_private_networks: true}\n"
    )
    assert load_agent(write(tmp_path, text)).warnings == []


def test_native_audio_model_allows_affective_dialog_and_thinking(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        NATIVE + "session: {affective_dialog: true, proactive_audio: true}\ngeneration: {thinking_budget: 0}\n",
    )
    assert load_agent(path).warnings == []


def test_unknown_model_is_a_warning_listing_the_current_models(tmp_path: Path) -> None:
    path = write(tmp_path, "model: gemini-3.8-liv\n")
    agent = load_agent(path)
    [warning] = agent.warnings
    assert warning.severity == "warning"
    assert position(warning) == "1:8"
    current = catalogue.current().ids("current")
    assert warning.hint == "did you mean `gemini-3.8-live`? current models: " + ", ".join(current)
    assert "gemini-2.0-flash-live-001" not in warning.hint, "a shut-down model is no suggestion"


def test_unknown_model_is_an_error_when_strict(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "model: my-own-model\n"), strict=True)
    assert position(error) == "1:8"
    assert "unknown model `my-own-model`" in error.message


def test_models_prefix_is_understood() -> None:
    assert catalogue.lookup("models/gemini-2.0-flash-live-001") is catalogue.MODELS["gemini-2.0-flash-live-001"]


def test_wake_word_mode_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, M + "activity:\n  mode: wake_word\n  wake: {model: hey_jarvis}\n")
    assert load_agent(path).spec.activity.mode == "wake_word"


def test_server_only_settings_warn_in_manual_mode(tmp_path: Path) -> None:
    agent = load_agent(write(tmp_path, M + "activity:\n  mode: manual\n  silence_duration_ms: 300\n"))
    assert [(position(w), w.message) for w in agent.warnings] == [
        ("4:3", "`silence_duration_ms` only applies to `mode: server`")
    ]


def test_compression_off_warns(tmp_path: Path) -> None:
    agent = load_agent(write(tmp_path, M + "context:\n  compression: {enabled: false}\n"))
    assert [position(w) for w in agent.warnings] == ["3:26"]


def test_one_error_per_problem_in_one_file(tmp_path: Path) -> None:
    text = M + "session: {video: true}\ntools:\n  - name: t\n    http: {url: 'gopher://x'}\n"
    assert [position(e) for e in failures(write(tmp_path, text)) if e.severity == "error"] == ["2:18", "5:17"]


def test_settings_of_other_modes_warn(tmp_path: Path) -> None:
    text = M + "activity:\n  wake: {model: hey_jarvis}\n  push_to_talk: {key: t}\nconversation: {idle_timeout_s: 5}\n"
    agent = load_agent(write(tmp_path, text))
    assert [(position(w), w.message) for w in agent.warnings] == [
        ("3:3", "`wake` only applies to `mode: wake_word`"),
        ("4:3", "`push_to_talk` only applies to `mode: push_to_talk`"),
        ("5:1", "`conversation` only applies to `activity.mode: wake_word`"),
    ]


def test_doubled_braces_are_literal_text_not_placeholders(tmp_path: Path) -> None:
    """`{{literal}}` validates: it is sent as `{literal}` (tests/live/test_tools.py), not filled from an argument."""
    text = (
        M + "tools:\n  - name: t\n    description: d\n"
        "    parameters: {type: object, properties: {city: {type: string}}}\n"
        "    http:\n      url: 'http://127.0.0.1:8080/w?q={{literal}}&c={city}'\n      method: POST\n"
        "      body: {filter: {expr: '{{a}} = {city}'}, tags: ['{{b}}']}\n      headers: {X-Q: '{{c}}'}\n"
    )
    agent = load_agent(write(tmp_path, text))
    assert agent.spec.tools[0].http is not None
