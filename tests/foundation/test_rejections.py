"""Every rejection of an agent file is located at the exact line:column of the offending key or value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.foundation.helpers import MODEL, only_error, position, write

M = f"model: {MODEL}\n"

# (case id, file text, expected line:column, message fragment, hint fragment)
CASES = [
    ("syntax-unclosed-flow", M + "voice: {name: Kore\n", "3:1", "invalid YAML", "not closed"),
    ("syntax-tab-indent", M + "voice:\n\tname: Kore\n", "3:1", "invalid YAML", "tabs"),
    (
        "syntax-missing-colon-space",
        M + "voice:\n  name:Kore\n  language en\n",
        "3:3",
        "`voice` must be a mapping",
        "space after each colon",
    ),
    ("duplicate-key", M + "response: audio\nresponse: text\n", "3:1", "duplicate key `response`", "remove one"),
    ("duplicate-nested-key", M + "voice: {name: Kore, name: Puck}\n", "2:21", "first set on line 2", ""),
    (
        "python-tag",
        M + "instructions: !!python/object/apply:os.system [ls]\n",
        "2:15",
        "`!!python/object/apply:os.system`",
        "remove the tag",
    ),
    ("python-name-tag", M + "voice:\n  name: !!python/name:os.system\n", "3:9", "not allowed", ""),
    ("custom-tag", M + "voice: !Voice {name: Kore}\n", "2:8", "`!Voice` is not allowed", ""),
    ("binary-tag", M + "instructions: !!binary aGVsbG8=\n", "2:15", "`!!binary` is not allowed", ""),
    ("set-tag", M + "voice: !!set {a, b}\n", "2:8", "`!!set` is not allowed", ""),
    ("alias", M + "voice: &v {name: Kore}\ninstructions: *v\n", "3:15", "aliases", "write the value out"),
    ("deep-nesting", M + "tools: " + "[" * 60 + "]" * 60 + "\n", "2:57", "nested more than 50 levels", ""),
    ("unknown-key-did-you-mean", M + "respnse: audio\n", "2:1", "unknown key `respnse`", "did you mean `response`?"),
    (
        "unknown-nested-key",
        M + "activity:\n  barge_inn: false\n",
        "3:3",
        "unknown key `barge_inn` in `activity`",
        "did you mean `barge_in`?",
    ),
    (
        "unknown-key-lists-allowed",
        M + "voice:\n  zzz: 1\n",
        "3:3",
        "unknown key `zzz` in `voice`",
        "allowed keys: name, language",
    ),
    ("wrong-type", M + "generation:\n  temperature: hot\n", "3:16", "`generation.temperature`", ""),
    ("temperature-range", M + "generation: {temperature: 2.5}\n", "2:27", "less than or equal to 2", ""),
    ("top-p-range", M + "generation: {top_p: 1.5}\n", "2:21", "less than or equal to 1", ""),
    ("top-k-range", M + "generation: {top_k: 0}\n", "2:21", "greater than or equal to 1", ""),
    ("penalty-range", M + "generation:\n  presence_penalty: -3\n", "3:21", "greater than or equal to -2", ""),
    ("section-not-mapping", M + "voice: Kore\n", "2:8", "`voice` must be a mapping", ""),
    ("tools-not-list", M + "tools: {name: x}\n", "2:8", "`tools` must be a list", ""),
    ("missing-model", "name: kitchen\n", "1:1", "missing required key `model`", "add `model: gemini"),
    (
        "missing-nested-key",
        M + "tools:\n  - name: w\n    http: {method: GET}\n",
        "4:5",
        "missing required key `url` in `tools[0].http`",
        "",
    ),
    ("name-not-slug", "name: Kitchen Helper\n" + M, "1:7", "`name` must be a slug", ""),
    ("two-modalities", M + "response: [audio, text]\n", "2:11", "exactly one response modality", "response: audio"),
    ("bad-enum", M + "response: audoi\n", "2:11", "`response` must be one of: audio, text", "did you mean `audio`?"),
    (
        "bad-activity-mode",
        M + "activity:\n  mode: push-to-talk\n",
        "3:9",
        "must be one of: server, manual, push_to_talk, wake_word",
        "push_to_talk",
    ),
    (
        "both-implementations",
        M + "tools:\n  - name: t\n    python: m:f\n    http: {url: 'http://x/'}\n",
        "5:5",
        "has both `python` and `http`",
        "two tools",
    ),
    ("no-implementation", M + "tools:\n  - name: t\n", "3:5", "exactly one of `python` or `http`", "add `python:"),
    (
        "tool-name-not-identifier",
        M + "tools:\n  - name: set-timer\n    http: {url: 'http://x/'}\n",
        "3:11",
        "a tool name must be an identifier",
        "set_timer",
    ),
    (
        "entry-point-syntax",
        M + "tools:\n  - name: t\n    python: kitchen_tools.set_timer\n",
        "4:13",
        "`python` must be an entry point",
        "",
    ),
    ("backoff-order", M + "supervision: {backoff_s: [60, 1]}\n", "2:26", "first backoff (60.0 s) is longer", ""),
    ("multiple-documents", M + "---\n" + M, "2:1", "expected a single document", "one agent per file"),
    ("top-level-list", "- model: x\n", "1:1", "an agent file is a mapping", ""),
    ("top-level-scalar", "hello\n", "1:1", "an agent file is a mapping", ""),
    ("control-character", M + "instructions: a\x07b\n", "2:16", "control character", ""),
]


@pytest.mark.parametrize(("text", "where", "message", "hint"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rejection_is_located(tmp_path: Path, text: str, where: str, message: str, hint: str) -> None:
    error = only_error(write(tmp_path, text))
    assert position(error) == where, error.render()
    assert message in error.message, error.render()
    assert hint in error.hint, error.render()
    assert error.render().startswith(f"{tmp_path / 'agent.yaml'}:{where}: error: ")


UNSUPPORTED = [
    "response_mime_type",
    "response_schema",
    "response_logprobs",
    "logprobs",
    "stop_sequences",
    "routing_config",
    "audio_timestamp",
]


@pytest.mark.parametrize("key", UNSUPPORTED)
def test_generation_parameter_the_live_api_rejects_is_named(tmp_path: Path, key: str) -> None:
    path = write(tmp_path, M + f"generation:\n  temperature: 0.5\n  {key}: x\n")
    error = only_error(path)
    assert position(error) == "4:3"
    assert error.message == f"`{key}` is not supported by the Live API"


def test_every_error_of_a_stage_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, M + "respnse: audio\ngeneration: {temperature: 9}\nvoice: {nam: Kore}\n")
    from tests.foundation.helpers import failures

    assert [position(e) for e in failures(path)] == ["2:1", "3:27", "4:9"]


def test_empty_file(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, "# only a comment\n"))
    assert "empty" in error.message
    assert position(error) == "1:1"


def test_file_over_one_mebibyte_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(M + "instructions: " + "a" * (1024 * 1024) + "\n")
    error = only_error(path)
    assert "larger than 1024 KiB" in error.message


def test_non_utf8_file_is_located_at_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_bytes(M.encode() + b"instructions: caf\xe9\n")
    error = only_error(path)
    assert position(error) == "2:18"
    assert "UTF-8" in error.message


def test_billion_laughs_is_refused_at_the_first_alias(tmp_path: Path) -> None:
    lines = [M.strip(), 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    error = only_error(write(tmp_path, "\n".join(lines) + "\n"))
    assert position(error) == "3:10"
    assert "aliases" in error.message


def test_a_directory_is_not_an_agent_file(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    error = only_error(tmp_path / "dir.yaml")
    assert "directory" in error.message


@pytest.mark.parametrize(("text", "where"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_pure_python_parser_reports_the_same_position(text: str, where: str) -> None:
    """Boards without libyaml fall back to PyYAML's pure-Python parser: positions must not change."""
    from runtime.agentfile import yamldoc
    from runtime.errors import RuntimeConfigError

    positions = []
    for use_libyaml in (True, False):
        doc = yamldoc.Document("agent.yaml", text)
        try:
            yamldoc.parse(doc, lambda value, node, path: value, use_libyaml=use_libyaml)
        except RuntimeConfigError as error:
            doc.errors.append(error)
        positions.append([f"{e.location.line}:{e.location.column}" for e in doc.errors])
    assert positions[0] == positions[1]


def test_too_many_nodes_are_refused_where_the_cap_is_reached(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, M + "instructions: [" + ",".join(["1"] * 20_000) + "]\n"))
    assert "more than 10000 keys and values" in error.message
    assert position(error) == f"2:{16 + 2 * 9995}"  # root, 2 keys, 2 values, list: item 9996 is node 10001


def test_errors_per_file_are_capped(tmp_path: Path) -> None:
    from tests.foundation.helpers import failures

    errors = failures(write(tmp_path, M + "".join(f"k{i}: 1\nk{i}: 2\n" for i in range(80))))
    assert len(errors) == 51
    assert errors[-1].message == "more than 50 errors; stopping here"


def test_key_at_the_wrong_level_says_where_it_belongs(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, M + "temperature: 0.7\n"))
    assert (position(error), error.hint) == ("2:1", "`temperature` belongs under `generation`")
