"""`runtime validate` and `runtime schema` as users run them: real files, a real subprocess, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from jsonschema import validators

from runtime.commands.schema import schema_text
from tests.foundation.helpers import MODEL, write

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schemas" / "agent.schema.json"


def runtime(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RUNTIME_SECRETS_DIR": "/nonexistent-secrets"}
    env.pop("CREDENTIALS_DIRECTORY", None)
    return subprocess.run(
        [sys.executable, "-m", "runtime", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_examples_validate_with_exit_0() -> None:
    result = runtime("validate", "agents/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line for line in result.stdout.splitlines() if not line.startswith("  hint:")] == [
        "agents/desk.yaml:7:11: notice: `gemini-3.8-live` replies in audio only: `response: text` is served as audio "
        "with output transcription and the audio is discarded",
        # kitchen (server) and minimal (wake word) share the default microphone: no warning, one wakes by its word
    ]
    assert "3 files valid (1 notice)" in result.stderr
    assert runtime("validate", "--strict", "agents/desk.yaml").returncode == 0, "a notice never fails, even --strict"
    for example in ("kitchen", "minimal"):
        assert runtime("validate", "--strict", f"agents/{example}.yaml").returncode == 0, "each valid on its own"


def test_two_server_agents_on_one_microphone_get_a_warning_a_wake_word_agent_does_not(tmp_path: Path) -> None:
    for name, mode in (("kitchen", "server"), ("house", "server"), ("hall", "push_to_talk")):
        write(tmp_path, f"model: {MODEL}\nactivity: {{mode: {mode}}}\naudio: {{input: {{device: default}}}}\n",
              name=f"{name}.yaml")
    write(tmp_path, f"model: {MODEL}\naudio: {{input: {{device: 'file:in.wav'}}}}\n", name="files.yaml")
    write(tmp_path, f"model: {MODEL}\nactivity:\n  mode: server\n", name="porch.yaml")  # the default microphone
    result = runtime("validate", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = [line for line in result.stdout.splitlines() if "shares its microphone" in line]
    assert warnings == [  # located where each file names its microphone, or (porch) its mode
        f"{tmp_path}/house.yaml:3:25: warning: agent 'house' shares its microphone with kitchen, porch, all in "
        "`server` mode: each would hear and answer everything said",
        f"{tmp_path}/kitchen.yaml:3:25: warning: agent 'kitchen' shares its microphone with house, porch, all in "
        "`server` mode: each would hear and answer everything said",
        f"{tmp_path}/porch.yaml:3:9: warning: agent 'porch' shares its microphone with house, kitchen, all in "
        "`server` mode: each would hear and answer everything said",
    ]


def test_invalid_file_exits_1_with_a_located_error_and_hint(tmp_path: Path) -> None:
    path = write(tmp_path, f"model: {MODEL}\nrespnse: audio\n")
    result = runtime("validate", path)
    assert result.returncode == 1
    assert result.stdout == f"{path}:2:1: error: unknown key `respnse`\n  hint: did you mean `response`?\n"
    assert "Traceback" not in result.stderr


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = runtime("validate", tmp_path / "nope.yaml")
    assert result.returncode == 2
    assert "no such file or directory" in result.stderr


def test_no_path_is_a_usage_error() -> None:
    assert runtime("validate").returncode == 2


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    assert runtime("validate", "--format", "xml", "agents/").returncode == 2


def test_empty_directory_is_a_usage_error(tmp_path: Path) -> None:
    assert runtime("validate", tmp_path).returncode == 2


def test_json_format(tmp_path: Path) -> None:
    good = write(tmp_path, f"model: {MODEL}\n", "good.yaml")
    bad = write(tmp_path, f"model: {MODEL}\ngeneration: {{stop_sequences: [x]}}\n", "bad.yaml")
    result = runtime("validate", "--format", "json", good, bad)
    assert result.returncode == 1
    assert json.loads(result.stdout) == [
        {
            "path": str(bad),
            "line": 2,
            "column": 14,
            "severity": "error",
            "message": "`stop_sequences` is not supported by the Live API",
            "hint": json.loads(result.stdout)[0]["hint"],
        }
    ]


def test_json_format_of_valid_files_has_only_notices() -> None:
    result = runtime("validate", "--format", "json", "agents/")
    assert result.returncode == 0
    assert [(item["path"], item["severity"]) for item in json.loads(result.stdout)] == [
        ("agents/desk.yaml", "notice"),
    ]


def test_github_format(tmp_path: Path) -> None:
    path = write(tmp_path, f"model: {MODEL}\nvoice: {{nme: Kore}}\n")
    result = runtime("validate", "--format", "github", path)
    assert result.returncode == 1
    assert result.stdout == (
        f"::error file={path},line=2,col=9,title=runtime validate::unknown key `nme` in `voice`"
        "%0Ahint: did you mean `name`?\n"
    )


def test_warnings_pass_unless_strict(tmp_path: Path) -> None:
    path = write(tmp_path, "model: gemini-9-live\n")
    relaxed = runtime("validate", path)
    assert relaxed.returncode == 0
    assert f"{path}:1:8: warning: unknown model `gemini-9-live`" in relaxed.stdout
    strict = runtime("validate", "--strict", path)
    assert strict.returncode == 1
    assert f"{path}:1:8: error: unknown model" in strict.stdout


def test_secrets_dir_option(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "who").write_text("kitchen")
    path = write(tmp_path, f"model: {MODEL}\nname: ${{secret:who}}\n")
    assert runtime("validate", path).returncode == 1
    assert runtime("validate", "--secrets-dir", secrets, path).returncode == 0


def test_duplicate_names_in_a_directory_fail(tmp_path: Path) -> None:
    write(tmp_path, f"model: {MODEL}\nname: twin\n", "a.yaml")
    write(tmp_path, f"model: {MODEL}\nname: twin\n", "b.yaml")
    result = runtime("validate", tmp_path)
    assert result.returncode == 1
    assert f"{tmp_path / 'b.yaml'}:2:7: error: agent name `twin` is already used by" in result.stdout


def test_committed_schema_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), "run: runtime schema -o schemas/agent.schema.json"


def test_schema_command_prints_a_draft_2020_12_schema(tmp_path: Path) -> None:
    result = runtime("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validators.Draft202012Validator.check_schema(schema)
    assert schema["required"] == ["model"]
    activity = schema["$defs"]["Activity"]["properties"]["mode"]
    assert activity["enum"] == ["server", "manual", "push_to_talk", "wake_word"]
    assert activity["default"] == "server" and activity["description"]
    assert runtime("schema", "--output", tmp_path / "s.json").returncode == 0
    assert (tmp_path / "s.json").read_text() == result.stdout


def test_example_agents_satisfy_the_json_schema() -> None:
    import yaml

    validator = validators.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    for path in sorted((ROOT / "agents").glob("*.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert errors == [], (path, errors)


def test_validating_100_files_is_fast(tmp_path: Path) -> None:
    """Measured and printed, not asserted: the issue wants well under a second after start-up."""
    for number in range(100):
        shutil.copy(ROOT / "agents" / "kitchen.yaml", tmp_path / f"agent{number:03}.yaml")
        text = (tmp_path / f"agent{number:03}.yaml").read_text().replace("name: kitchen", f"name: kitchen{number}")
        (tmp_path / f"agent{number:03}.yaml").write_text(text)
    shutil.copy(ROOT / "agents" / "kitchen_tools.py", tmp_path)
    from runtime.agentfile.loader import agent_files, load_agent
    from runtime.commands.validate import check_files

    load_agent(ROOT / "agents" / "minimal.yaml")  # start-up: imports done
    started = time.perf_counter()
    findings = check_files(agent_files(tmp_path), secrets_dir=None, strict=False)
    in_process = time.perf_counter() - started
    assert [finding for finding in findings if "shares its microphone" not in finding.message] == []
    assert len(findings) == 100, "100 server-mode agents on one microphone: each is warned"
    started = time.perf_counter()
    result = runtime("validate", tmp_path)
    whole_command = time.perf_counter() - started
    assert result.returncode == 0, result.stdout
    started = time.perf_counter()
    runtime("--help")
    help_time = time.perf_counter() - started
    print(
        f"\nvalidate 100 kitchen-sized files: {in_process * 1000:.0f} ms in process, "
        f"{whole_command * 1000:.0f} ms as a command (start-up included); runtime --help {help_time * 1000:.0f} ms"
    )


def test_a_file_named_twice_is_checked_once() -> None:
    result = runtime("validate", "agents/", "agents/kitchen.yaml", "./agents/kitchen.yaml")
    assert result.returncode == 0, result.stdout
    assert "3 files valid" in result.stderr


def test_pre_commit_hook_runs_runtime_validate_on_yaml_files() -> None:
    import re

    import yaml

    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert (hook["id"], hook["entry"], hook["language"]) == ("runtime-validate", "runtime validate", "python")
    pattern = re.compile(hook["files"])
    assert pattern.search("agents/kitchen.yaml") and pattern.search("x.yml") and not pattern.search("kitchen_tools.py")


def test_a_wake_word_model_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, f"model: {MODEL}\nactivity:\n  mode: wake_word\n  wake: {{model: models/missing.tflite}}\n")
    result = runtime("validate", path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith(f"{path.resolve()}: error: ") or result.stdout.startswith(f"{path}: error: ")
    assert "missing.tflite" in result.stdout and "does not exist" in result.stdout
    assert "Traceback" not in result.stderr


def test_same_named_tool_packages_of_two_directories_are_checked_apart(tmp_path: Path) -> None:
    """Each agent's `tools/` package is its own: b's tools are not looked up among a's functions."""
    for name, function in (("a", "alpha"), ("b", "beta")):
        package = tmp_path / name / "tools"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(f"def {function}(x: int) -> int:\n    \"\"\"Echo.\"\"\"\n    return x\n")
        write(tmp_path / name, f"model: {MODEL}\ntools:\n  - name: t\n    python: tools:{function}\n", f"{name}.yaml")
    result = runtime("validate", tmp_path / "a", tmp_path / "b")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 files valid" in result.stderr
