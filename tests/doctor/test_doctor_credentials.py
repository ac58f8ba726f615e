"""Credentials and the service unit: a token URL that answers (the real token server minting from the emulator),
one that does not, the clock's verdicts, and what `systemctl`/`systemd-analyze` output means."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.doctor.clock import ClockState, judge_clock
from runtime.doctor.service import parse_score, parse_show
from runtime.emulator import Emulator, EmulatorOptions, EmulatorThread
from runtime.live.endpoint import Endpoint
from runtime.live.token_service import TokenService
from tests.doctor.helpers import CANARY_KEY, checks_of, clean_env, closed_port, run_doctor, write_agent

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "runtime.service"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with EmulatorThread(EmulatorOptions(api_key=CANARY_KEY)) as running:
        yield running


@pytest.fixture
def token_url(emulator: Emulator) -> Iterator[str]:
    service = TokenService(Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key=CANARY_KEY))
    server = service.http_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token"
    finally:
        server.shutdown()
        server.server_close()


def test_a_token_url_that_answers_passes_and_the_session_uses_its_token(
    emulator: Emulator, token_url: str, tmp_path: Path
) -> None:
    write_agent(tmp_path, "kitchen", "model: gemini-3.8-live\naudio: {input: {device: null}, output: {device: null}}\n")
    result = run_doctor(str(tmp_path), "--json", "--live", "--token-url", token_url, "--base-url", emulator.base_url,
                        "--ca-file", str(emulator.ca_file), env=clean_env())
    checks = checks_of(result)
    assert checks["credentials"]["status"] == "pass" and "token URL" in checks["credentials"]["detail"]
    assert checks["token URL"]["status"] == "pass"
    assert checks["session on gemini-3.8-live"]["status"] == "pass", checks["session on gemini-3.8-live"]


def test_a_token_url_nobody_answers_fails_with_a_hint(tmp_path: Path) -> None:
    write_agent(tmp_path, "kitchen", "model: gemini-3.8-live\n")
    port = closed_port()
    result = run_doctor(str(tmp_path), "--json", "--token-url", f"http://127.0.0.1:{port}/token",
                        "--base-url", f"https://127.0.0.1:{closed_port()}", env=clean_env())
    check = checks_of(result)["token URL"]
    assert result.returncode == 1 and check["status"] == "fail" and "unreachable" in check["detail"]
    assert "token-server" in check["hint"]


def test_the_clock_verdicts() -> None:
    assert judge_clock(ClockState(True, 0.2, 0.01)).status == "pass"
    assert judge_clock(ClockState(True, 9.0, 2.0)).status == "warn"
    unsynced = judge_clock(ClockState(False, 16.0, 16.0))
    assert unsynced.status == "warn" and "timedatectl set-ntp true" in unsynced.hint
    assert judge_clock(None).status == "skip"


def test_systemctl_show_output_is_read_as_properties() -> None:
    output = "LoadState=loaded\nUnitFileState=enabled\nActiveState=active\nFragmentPath=/etc/systemd/system/x"
    assert parse_show(output) == {"LoadState": "loaded", "UnitFileState": "enabled", "ActiveState": "active",
                                  "FragmentPath": "/etc/systemd/system/x"}


def test_the_shipped_unit_scores_as_the_readme_says() -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:  # no systemd tools: the doctor says "no score"; the parser is still checked below
        output = "→ Overall exposure level for runtime.service: 1.1 OK 🙂"
    else:
        output = subprocess.run([analyze, "security", "--no-pager", "--offline=true", str(UNIT)],
                                capture_output=True, text=True, timeout=60, check=False).stdout
    assert parse_score(output) == 1.1
