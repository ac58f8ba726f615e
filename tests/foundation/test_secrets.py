"""`${env:...}` and `${secret:...}`: where values come from, located failures, values never in errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.agentfile.loader import load_agent
from runtime.guards.redact import SECRETS
from tests.foundation.helpers import MODEL, failures, only_error, position, write

M = f"model: {MODEL}\n"
WEATHER = M + (
    "tools:\n"
    "  - name: weather\n"
    "    description: Weather.\n"
    "    http:\n"
    "      url: http://127.0.0.1:8080/weather\n"
    "      headers: {Authorization: 'Bearer ${secret:weather_token}'}\n"
)


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "secrets"
    directory.mkdir()
    (directory / "weather_token").write_text("tok-from-secrets-dir-51e2\n")
    return directory


@pytest.fixture(autouse=True)
def no_ambient_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("RUNTIME_SECRETS_DIR", raising=False)


def header(path: Path, **options: object) -> str:
    agent = load_agent(path, **options)  # type: ignore[arg-type]
    http = agent.spec.tools[0].http
    assert http is not None
    return http.headers["Authorization"]


def test_secret_is_read_from_the_secrets_dir_without_its_newline(tmp_path: Path, secrets_dir: Path) -> None:
    assert header(write(tmp_path, WEATHER), secrets_dir=secrets_dir) == "Bearer tok-from-secrets-dir-51e2"


def test_systemd_credentials_come_first(tmp_path: Path, secrets_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "weather_token").write_text("tok-from-credentials-9f0c")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert header(write(tmp_path, WEATHER), secrets_dir=secrets_dir) == "Bearer tok-from-credentials-9f0c"


def test_credentials_directory_falls_back_to_the_secrets_dir(
    tmp_path: Path, secrets_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "credentials"
    empty.mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(empty))
    assert header(write(tmp_path, WEATHER), secrets_dir=secrets_dir) == "Bearer tok-from-secrets-dir-51e2"


def test_secrets_dir_from_the_environment(tmp_path: Path, secrets_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNTIME_SECRETS_DIR", str(secrets_dir))
    assert header(write(tmp_path, WEATHER)) == "Bearer tok-from-secrets-dir-51e2"


def test_resolved_secret_is_registered_with_the_redactor(tmp_path: Path, secrets_dir: Path) -> None:
    load_agent(write(tmp_path, WEATHER), secrets_dir=secrets_dir)
    assert SECRETS.redact("sent tok-from-secrets-dir-51e2") == "sent ***"


def test_missing_secret_is_located_at_the_reference_and_named(tmp_path: Path) -> None:
    error = only_error(write(tmp_path, WEATHER), secrets_dir=tmp_path / "nowhere")
    assert position(error) == "7:40"
    assert error.message == "secret `weather_token` not found"
    assert str(tmp_path / "nowhere") in error.hint


def test_missing_env_is_located_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNTIME_TEST_UNSET", raising=False)
    error = only_error(write(tmp_path, M + "instructions: |\n  Hello\n  from ${env:RUNTIME_TEST_UNSET}.\n"))
    assert position(error) == "4:8"
    assert error.message == "environment variable `RUNTIME_TEST_UNSET` is not set"


def test_second_reference_in_one_value_is_located_on_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNTIME_TEST_A", "a")
    error = only_error(write(tmp_path, M + 'instructions: "${env:RUNTIME_TEST_A} ${env:RUNTIME_TEST_B}"\n'))
    assert position(error) == "2:38"


def test_env_reference_is_resolved_and_escape_keeps_it_literal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNTIME_TEST_CITY", "Oslo")
    path = write(tmp_path, M + "instructions: You live in ${env:RUNTIME_TEST_CITY}; write $${env:X} literally.\n")
    assert load_agent(path).spec.instructions == "You live in Oslo; write ${env:X} literally."


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("${secret:../etc/passwd}", "is not a valid secret name"),
        ("${secret:.hidden}", "is not a valid secret name"),
        ("${env:1BAD}", "is not a valid environment variable name"),
        ("${vault:x}", "unknown reference"),
    ],
)
def test_bad_reference_is_refused(tmp_path: Path, secrets_dir: Path, reference: str, message: str) -> None:
    error = only_error(write(tmp_path, M + f"instructions: 'say {reference}'\n"), secrets_dir=secrets_dir)
    assert position(error) == "2:20"
    assert message in error.message


def test_empty_secret_is_an_error(tmp_path: Path, secrets_dir: Path) -> None:
    (secrets_dir / "weather_token").write_text("\n")
    assert "is empty" in only_error(write(tmp_path, WEATHER), secrets_dir=secrets_dir).message


def test_secret_value_never_appears_in_errors(tmp_path: Path, secrets_dir: Path) -> None:
    value = "audio-secret-7d1e"
    (secrets_dir / "mode").write_text(value)
    (secrets_dir / "number").write_text("not-a-number-3c9a")
    path = write(
        tmp_path,
        M + "response: ${secret:mode}\ngeneration: {temperature: '${secret:number}'}\n"
        "tools:\n  - name: t\n    http: {url: 'gopher://${secret:mode}/x'}\n",
    )
    errors = failures(path, secrets_dir=secrets_dir)
    assert len(errors) == 2
    text = "\n".join(e.render() for e in errors)
    for secret in (value, "not-a-number-3c9a"):
        assert secret not in text
    out = subprocess.run(
        [sys.executable, "-m", "runtime", "validate", "--format", "json", "--secrets-dir", str(secrets_dir), str(path)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert value not in out.stdout + out.stderr
    assert len(json.loads(out.stdout)) == 2
