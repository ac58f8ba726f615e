"""`runtime token-server --metrics` as a real subprocess minting from the emulator: tokens minted, refusals and
minting time, read back from its `/metrics` with prometheus-client's parser."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from runtime.emulator import EmulatorOptions, EmulatorThread


def post(url: str, bearer: str, body: bytes = b"") -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Authorization": f"Bearer {bearer}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


def raw_post(url: str, length_header: str) -> int:
    """The status a POST with this `Content-Length` line gets (urllib always sends a true one)."""
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as connection:
        connection.sendall(f"POST {parts.path} HTTP/1.1\r\nHost: x\r\n{length_header}\r\n\r\n".encode())
        status_line = connection.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def test_minted_tokens_refusals_and_minting_time_are_counted(tmp_path: Path) -> None:
    (tmp_path / "bearer").write_text("device-secret-canary\n")
    with EmulatorThread(EmulatorOptions(port=0, api_key="long-lived")) as emulator:
        env = {**os.environ, "GEMINI_API_KEY": "long-lived", "NO_PROXY": "127.0.0.1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "runtime", "token-server", "--port", "0", "--metrics", "127.0.0.1:0",
             "--bearer-file", str(tmp_path / "bearer"), "--base-url", emulator.base_url,
             "--ca-file", str(emulator.ca_file)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            assert process.stdout is not None
            metrics_line, tokens_line = process.stdout.readline(), process.stdout.readline()
            metrics = re.search(r"http://\S+/metrics", metrics_line)
            tokens = re.search(r"http://\S+/token", tokens_line)
            assert metrics and tokens, (metrics_line, tokens_line)
            assert post(tokens.group(0), "device-secret-canary") == 200
            assert post(tokens.group(0), "device-secret-canary") == 200
            assert post(tokens.group(0), "wrong") == 401
            assert post(tokens.group(0).replace("/token", "/admin"), "device-secret-canary") == 404
            assert post(tokens.group(0), "device-secret-canary", b"{}" + b" " * 4096) == 413
            assert raw_post(tokens.group(0), "Content-Length: -1") == 400  # not a read until the client hangs up
            assert raw_post(tokens.group(0), "Content-Length: 2x") == 400
            with urllib.request.urlopen(metrics.group(0), timeout=10) as answer:
                page = answer.read().decode()
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(15)
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for family in text_string_to_metric_families(page) for s in family.samples}
    assert values[("runtime_token_server_tokens_minted_total", ())] == 2
    assert values[("runtime_token_server_refusals_total", (("reason", "unauthorized"),))] == 1
    assert values[("runtime_token_server_refusals_total", (("reason", "mint_failed"),))] == 0
    assert values[("runtime_token_server_refusals_total", (("reason", "not_found"),))] == 1
    assert values[("runtime_token_server_refusals_total", (("reason", "too_large"),))] == 1
    assert values[("runtime_token_server_refusals_total", (("reason", "bad_request"),))] == 2
    assert values[("runtime_token_server_mint_seconds_count", ())] == 2
    assert "device-secret-canary" not in page and "auth_tokens/" not in page
