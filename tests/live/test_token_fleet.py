"""`runtime token-server` as a real process for a fleet: per-device credentials, tokens locked to an agent, rate
limits, revocation, and the daemon (a real process too) using it against the emulator. Canaries: no device secret
and no API key in any log line, answer or metric."""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from google.genai import types

from runtime.emulator import EmulatorOptions, EmulatorThread
from runtime.live.token_devices import add_device
from tests.daemon.harness import MODEL, make_agents, start_daemon

API_KEY = "long-lived-key-canary-7f3a"


@dataclass
class TokenServer:
    process: subprocess.Popen[str]
    url: str
    metrics_url: str
    lines: list[str] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def pump(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_line(self, pattern: str, timeout_s: float = 30.0) -> str:
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((line for line in self.lines if re.search(pattern, line)), None), timeout_s)
        assert found, f"no token-server line like {pattern!r}:\n" + "\n".join(self.lines[-20:])
        return next(line for line in self.lines if re.search(pattern, line))

    def post(self, credential: str | None, agent: str | None) -> tuple[int, dict[str, str], dict[str, str]]:
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        body = json.dumps({"agent": agent}).encode() if agent else b""
        request = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return int(answer.status), json.loads(answer.read()), dict(answer.headers)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read()), dict(error.headers)

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=10) as answer:
            return str(answer.read().decode())


@contextmanager
def token_server(emulator: EmulatorThread, tmp: Path, *args: str) -> Iterator[TokenServer]:
    env = {**os.environ, "GEMINI_API_KEY": API_KEY, "NO_PROXY": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime", "token-server", "--port", "0", "--metrics", "127.0.0.1:0",
         "--base-url", emulator.base_url, "--ca-file", str(emulator.ca_file), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp,
    )
    try:
        assert process.stdout is not None
        metrics_line, tokens_line = process.stdout.readline(), process.stdout.readline()
        metrics, tokens = re.search(r"http://\S+/metrics", metrics_line), re.search(r"https?://\S+/token", tokens_line)
        assert metrics and tokens, (metrics_line, tokens_line)
        server = TokenServer(process, tokens.group(0), metrics.group(0))
        threading.Thread(target=server.pump, daemon=True).start()
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(15)


def cli_add_device(devices: Path, name: str, agents: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "runtime", "token-server", "add-device", name, "--agents", agents,
         "--devices", str(devices)], capture_output=True, text=True, timeout=60, check=True)
    credential = result.stdout.strip()
    assert credential.startswith(name + ".") and credential not in result.stderr
    return credential


def assert_no_secrets(texts: list[str], secrets: list[str]) -> None:
    for text in texts:
        for secret in [API_KEY, *secrets]:
            assert secret.split(".", 1)[-1] not in text
        assert "auth_tokens/" not in text


def test_two_devices_get_tokens_locked_to_their_own_agents_and_a_removed_line_revokes_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="runtime.emulator")
    agents = make_agents(tmp_path / "agents", ["kitchen", "hall"])
    devices = tmp_path / "devices"
    kitchen = cli_add_device(devices, "kitchen-pi", "kitchen")
    hall = cli_add_device(devices, "hall-pi", "hall")
    (tmp_path / "bearer").write_text("shared-bearer-canary\n")
    with EmulatorThread(EmulatorOptions(port=0, api_key=API_KEY)) as emulator, \
            token_server(emulator, tmp_path, "--devices", str(devices), "--agents", str(agents),
                         "--bearer-file", str(tmp_path / "bearer")) as server:
        status, body, _ = server.post(kitchen, "kitchen")
        assert status == 200 and body["token"].startswith("auth_tokens/")
        locked_token = body["token"]
        assert server.post(kitchen, "hall")[0] == 403
        assert server.post(hall, "hall")[0] == 200
        assert server.post(hall, "attic")[0] == 403
        assert server.post("shared-bearer-canary", "attic")[0] == 404
        assert server.post("shared-bearer-canary", "hall")[0] == 200
        assert server.post(kitchen, None)[0] == 400  # with --agents every token is for a named agent
        assert server.post(kitchen + "x", "kitchen")[0] == 401
        assert server.post(None, "kitchen")[0] == 401

        # the token opens kitchen's model and configuration, whatever the client asks for
        device = _client(emulator, locked_token)
        text = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT], system_instruction="other")
        _open_and_close(device, "models/gemini-2.0-flash-live-001", text)
        set_up = [r.getMessage() for r in caplog.records if "session set up for" in r.getMessage()]
        assert set_up == [f"connection 1: session set up for models/{MODEL}"]

        devices.write_text("".join(line for line in devices.read_text().splitlines(keepends=True)
                                   if not line.startswith("kitchen-pi ")))
        assert server.post(kitchen, "kitchen")[0] == 401  # the very next request: no watcher to wait for
        assert server.post(hall, "hall")[0] == 200
        server.wait_line(r"refused device=kitchen-pi \(unverified\) agent=\?: unauthorized")
        page = server.metrics()
    server.wait_line(r"minted a locked token for device=hall-pi agent=hall")
    assert "refused device=kitchen-pi agent=hall: forbidden" in "\n".join(server.lines)
    assert_no_secrets([*server.lines, page], [kitchen, hall, "shared-bearer-canary"])
    assert 'runtime_token_server_refusals_total{reason="forbidden"} 2.0' in page
    assert 'runtime_token_server_refusals_total{reason="unauthorized"} 3.0' in page
    assert "runtime_token_server_tokens_minted_total 4.0" in page


def _client(emulator: EmulatorThread, token: str) -> object:
    import ssl

    from google import genai

    context = ssl.create_default_context(cafile=str(emulator.ca_file))
    return genai.Client(api_key=token, http_options=types.HttpOptions(
        base_url=emulator.base_url, api_version="v1alpha", async_client_args={"ssl": context}))


def _open_and_close(client: object, model: str, config: types.LiveConnectConfig) -> None:
    import anyio

    async def main() -> None:
        async with client.aio.live.connect(model=model, config=config):  # type: ignore[attr-defined]
            pass

    anyio.run(main)


def test_a_reconnect_storm_of_50_devices_is_held_to_each_devices_bucket(tmp_path: Path) -> None:
    agents = make_agents(tmp_path / "agents", ["kitchen"])
    devices = tmp_path / "devices"
    credentials = [add_device(devices, f"pi-{number:02d}", ["kitchen"]) for number in range(50)]
    with EmulatorThread(EmulatorOptions(port=0, api_key=API_KEY, keep_history=False)) as emulator, \
            token_server(emulator, tmp_path, "--devices", str(devices), "--agents", str(agents),
                         "--rate-burst", "3", "--rate-per-minute", "0.5") as server:
        asks = [credential for credential in credentials for _ in range(5)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(lambda credential: (credential, server.post(credential, "kitchen")), asks))
        page = server.metrics()
    for credential in credentials:
        statuses = sorted(status for who, (status, _, _) in answers if who == credential)
        assert statuses == [200, 200, 200, 429, 429], credential.split(".")[0]
    limited = [headers for _, (status, _, headers) in answers if status == 429]
    assert all(int(headers["Retry-After"]) >= 1 for headers in limited)
    assert 'runtime_token_server_refusals_total{reason="rate_limited"} 100.0' in page
    assert "runtime_token_server_tokens_minted_total 150.0" in page
    assert_no_secrets([*server.lines, page, *(json.dumps(body) for _, (s, body, _) in answers if s != 200)],
                      credentials)


def test_the_daemon_parks_an_agent_its_device_may_not_run_and_a_revoked_device_stops_asking(tmp_path: Path) -> None:
    agents = make_agents(tmp_path / "agents", ["kitchen", "hall"])
    devices = tmp_path / "devices"
    credential = cli_add_device(devices, "kitchen-pi", "kitchen")
    (tmp_path / "credential").write_text(credential + "\n")
    options = EmulatorOptions(port=0, api_key=API_KEY, go_away_after_s=1.0, connection_limit_s=2.0)
    with EmulatorThread(options) as emulator, \
            token_server(emulator, tmp_path, "--devices", str(devices), "--agents", str(agents)) as server:
        daemon = start_daemon(agents, tmp_path, "--backend", "gemini", "--base-url", emulator.base_url,
                              "--ca-file", str(emulator.ca_file), "--token-url", server.url,
                              env={"RUNTIME_TOKEN_CREDENTIAL_FILE": str(tmp_path / "credential")})
        try:
            daemon.wait_line(r"hall.*parked as failed.*refused.*HTTP 403", timeout_s=60)
            server.wait_line(r"minted a locked token for device=kitchen-pi agent=kitchen")
            devices.write_text("")  # revoked while kitchen runs: its next reconnect (the emulator's go-away) fails
            daemon.wait_line(r"kitchen.*parked as failed.*refused.*HTTP 401", timeout_s=60)
            refusals = server.metrics()
        finally:
            daemon.stop()
    assert 'runtime_token_server_refusals_total{reason="forbidden"} 1.0' in refusals  # hall asked once
    assert 'runtime_token_server_refusals_total{reason="unauthorized"} 1.0' in refusals  # kitchen once, revoked
    assert_no_secrets([*daemon.lines, *server.lines], [credential])


def test_tls_built_in_serves_tokens_over_https_to_a_client_trusting_its_certificate(tmp_path: Path) -> None:
    import ssl

    import anyio

    from runtime.emulator.tls import write_self_signed
    from runtime.errors import SessionError
    from runtime.live.endpoint import fetch_token

    cert, key = write_self_signed(tmp_path)
    agents = make_agents(tmp_path / "agents", ["kitchen"])
    devices = tmp_path / "devices"
    credential = add_device(devices, "kitchen-pi", ["kitchen"])
    with EmulatorThread(EmulatorOptions(port=0, api_key=API_KEY)) as emulator, \
            token_server(emulator, tmp_path, "--devices", str(devices), "--agents", str(agents),
                         "--tls-cert", str(cert), "--tls-key", str(key)) as server:
        assert server.url.startswith("https://")
        trusting = ssl.create_default_context(cafile=str(cert))
        token = anyio.run(lambda: fetch_token(server.url, trusting, bearer=credential, agent="kitchen"))
        assert token.startswith("auth_tokens/")
        with pytest.raises(SessionError, match="unreachable"):  # the system's trust does not know this certificate
            anyio.run(lambda: fetch_token(server.url, None, bearer=credential, agent="kitchen"))
        plain = server.url.replace("https://", "http://")
        with pytest.raises(SessionError):
            anyio.run(lambda: fetch_token(plain, None, bearer=credential, agent="kitchen"))
    assert_no_secrets(server.lines, [credential])
