"""Canary secrets: a known secret is planted everywhere a key or token travels, and searched for everywhere text
leaves the process — log records, a real process's stderr, error and exception messages, tool results, and
`runtime validate` output in every format."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import anyio.abc
import pytest

from runtime.guards.redact import SECRETS, install_logging_filter

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "canary-T0ken-7f3a9c/e1+b2"
API_KEY = "canary-API-key-4d8e2b61c0"


def leaked(text: str, secret: str) -> bool:
    """The secret, raw, percent-encoded or base64-encoded, somewhere in the text."""
    forms = {secret, quote(secret, safe=""), quote(secret), base64.b64encode(secret.encode()).decode().rstrip("=")}
    return any(form in text for form in forms)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "runtime", *args], capture_output=True, text=True, cwd=ROOT, env=environment, timeout=60
    )


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "secrets"
    directory.mkdir(mode=0o700)
    (directory / "weather_token").write_text(TOKEN + "\n")
    (directory / "weather_token").chmod(0o600)
    return directory


AGENT_HEAD = "model: gemini-3.8-live\ninstructions: You tell the weather.\n"
HTTP_TOOL = """tools:
  - name: weather
    description: Current weather.
    http:
      url: "http://127.0.0.1:{port}/weather?city={{city}}&key=${{secret:weather_token}}"
      headers: {{Authorization: "Bearer ${{secret:weather_token}}"}}
    parameters: {{type: object, properties: {{city: {{type: string}}}}, required: [city]}}
    timeout_s: {timeout_s}
"""

# Agent files that put the secret where an error message is likely to quote the value back.
HOSTILE_AGENTS = {
    "valid": AGENT_HEAD + HTTP_TOOL.format(port=8080, timeout_s=5),
    "secret_as_name": "name: ${secret:weather_token}\n" + AGENT_HEAD,
    "secret_as_model": "model: ${secret:weather_token}\n",
    "secret_as_voice": AGENT_HEAD + "voice: {name: ${secret:weather_token}}\n",
    "secret_as_number": AGENT_HEAD + "generation: {temperature: ${secret:weather_token}}\n",
    "secret_as_enum": AGENT_HEAD + "response: ${secret:weather_token}\n",
    "secret_as_entry_point": AGENT_HEAD + "tools: [{name: t, python: 'mod_${secret:weather_token}:f'}]\n",
    "secret_in_url_userinfo": AGENT_HEAD
    + "tools: [{name: t, http: {url: 'http://u:${secret:weather_token}@127.0.0.1/'}}]\n",
    "secret_as_url": AGENT_HEAD + "tools: [{name: t, http: {url: '${secret:weather_token}'}}]\n",
    "secret_as_method": AGENT_HEAD
    + "tools: [{name: t, http: {url: 'http://h/', method: '${secret:weather_token}'}}]\n",
    "secret_in_bad_tool_name": AGENT_HEAD + "tools: [{name: 'x${secret:weather_token}', http: {url: 'http://h/'}}]\n",
    "secret_in_list": AGENT_HEAD + "supervision: {backoff_s: ['${secret:weather_token}', 1]}\n",
}


WARNED_ONLY = {"valid", "secret_as_model"}  # an unknown model is only a warning


@pytest.mark.parametrize("output_format", ["json", "text", "github"])
@pytest.mark.parametrize("case", sorted(HOSTILE_AGENTS))
def test_runtime_validate_never_prints_a_secret(
    tmp_path: Path, secrets_dir: Path, case: str, output_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from runtime.cli import main

    agent = tmp_path / "agents" / f"{case.replace('_', '-')}.yaml"
    agent.parent.mkdir()
    agent.write_text(HOSTILE_AGENTS[case])
    code = main(["validate", "--format", output_format, "--secrets-dir", str(secrets_dir), str(agent)])
    out, err = capsys.readouterr()
    assert not leaked(out, TOKEN), out
    assert not leaked(err, TOKEN), err
    if output_format == "json":
        json.loads(out)
    assert code == (0 if case in WARNED_ONLY else 1), f"{case}:\n{out}{err}"


@pytest.mark.parametrize("output_format", ["json", "text", "github"])
def test_runtime_validate_never_prints_a_secret_from_a_real_process(
    tmp_path: Path, secrets_dir: Path, output_format: str
) -> None:
    """Every hostile file at once, through the console script's process (its stderr included)."""
    agents = tmp_path / "agents"
    agents.mkdir()
    for case, text in HOSTILE_AGENTS.items():
        (agents / f"{case.replace('_', '-')}.yaml").write_text(text)
    result = run_cli("validate", "--format", output_format, "--secrets-dir", str(secrets_dir), str(agents))
    assert result.returncode == 1, result.stderr
    assert not leaked(result.stdout, TOKEN), result.stdout
    assert not leaked(result.stderr, TOKEN), result.stderr
    assert result.stdout.count("error") >= len(HOSTILE_AGENTS) - len(WARNED_ONLY)


@pytest.mark.parametrize("outcome", ["accepted", "rejected"])
def test_the_api_key_never_reaches_a_real_process_stderr(outcome: str) -> None:
    script = str(ROOT / "tests" / "security" / "canary_client.py")
    environment = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, script, API_KEY, outcome, "redact"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DEBUG websockets.client > GET" in result.stderr  # the capture really sees DEBUG records
    assert ("1008" in result.stdout) == (outcome == "rejected"), result.stdout
    assert ("session completed" in result.stdout) == (outcome == "accepted"), result.stdout
    assert not leaked(result.stderr, API_KEY), [line for line in result.stderr.splitlines() if API_KEY in line]
    assert not leaked(result.stdout, API_KEY), result.stdout


def test_without_redaction_the_same_process_would_leak_the_key() -> None:
    """The control experiment: the capture above is able to see a leak."""
    script = str(ROOT / "tests" / "security" / "canary_client.py")
    environment = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, script, API_KEY, "accepted", "plain"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=90,
    )
    assert f"x-goog-api-key: {API_KEY}" in result.stderr


@pytest.fixture
def redacted_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Process-wide redaction as the daemon installs it, undone after the test."""
    monkeypatch.setattr(logging, "_logRecordFactory", logging.getLogRecordFactory())
    monkeypatch.setattr("runtime.guards.redact._factory_redactors", [])
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    install_logging_filter()
    yield


async def echo_server(listener: anyio.abc.SocketListener, mode: str) -> None:
    """An HTTP service that misbehaves with the request it got: echoes it back (200 or 500), hangs up, or hangs."""

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            head = b""
            while b"\r\n\r\n" not in head:
                head += await stream.receive()
            if mode == "hang_up":
                return
            if mode == "hang":
                await anyio.sleep_forever()
            status = b"200 OK" if mode == "echo_200" else b"500 Internal Server Error"
            body = json.dumps({"you_sent": head.decode()}).encode()
            await stream.send(
                b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (status, len(body), body)
            )

    await listener.serve(handle)


@pytest.fixture(
    params=[
        "echo_200",
        "echo_500",
        "hang_up",
        "hang",
    ]
)
async def misbehaving_service(request: pytest.FixtureRequest) -> AsyncIterator[tuple[int, str]]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = int(listener.extra(anyio.abc.SocketAttribute.local_port))
    async with anyio.create_task_group() as group:
        group.start_soon(echo_server, listener, request.param)
        yield port, request.param
        group.cancel_scope.cancel()


@pytest.mark.anyio
async def test_an_http_tool_secret_never_reaches_logs_errors_or_results(
    tmp_path: Path,
    secrets_dir: Path,
    misbehaving_service: tuple[int, str],
    redacted_logging: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from runtime.agentfile.loader import load_agent
    from runtime.live import tools

    port, mode = misbehaving_service
    agent_file = tmp_path / "weather.yaml"
    agent_file.write_text(AGENT_HEAD + HTTP_TOOL.format(port=port, timeout_s=0.5))
    caplog.set_level(logging.DEBUG)
    agent = load_agent(agent_file, secrets_dir=secrets_dir)
    assert SECRETS.redact(TOKEN) == "***"  # the loader registered the secret as it read it
    runner = tools.ToolRunner(agent.tools)
    outcome = await runner.call("weather", "call-1", {"city": "Berlin"})
    result_text = json.dumps(outcome.result)
    print(f"\n{mode}: {result_text[:200]}")
    assert outcome.ok == (mode == "echo_200")
    records = [f"{record.getMessage()} {record.exc_text or ''} {record.__dict__}" for record in caplog.records]
    assert not any(leaked(text, TOKEN) for text in records), records
    assert not leaked(caplog.text, TOKEN)
    assert not leaked(result_text, TOKEN), f"the tool result sent to the model holds the secret: {result_text}"


def test_a_secret_in_a_loader_exception_message_is_redacted(tmp_path: Path, secrets_dir: Path) -> None:
    from runtime.agentfile.loader import ConfigErrors, load_agent

    agent_file = tmp_path / "agent.yaml"
    agent_file.write_text(HOSTILE_AGENTS["secret_as_number"])
    with pytest.raises(ConfigErrors) as caught:
        load_agent(agent_file, secrets_dir=secrets_dir)
    texts: list[Any] = [str(caught.value), repr(caught.value), *(e.render() for e in caught.value.errors)]
    assert not any(leaked(str(text), TOKEN) for text in texts), texts


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://h/",
        "http://169.254.169.254/latest/meta-data/",
        "http://u:p@127.0.0.1/",
        "http://2852039166/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
        "http://metadata.google.internal/",
    ],
)
def test_runtime_validate_refuses_tool_urls_the_ssrf_guard_refuses(tmp_path: Path, url: str) -> None:
    agent = tmp_path / "agent.yaml"
    agent.write_text(AGENT_HEAD + f"tools: [{{name: t, description: d, http: {{url: '{url}'}}}}]\n")
    from runtime.cli import main

    assert main(["validate", "--format", "json", str(agent)]) == 1
