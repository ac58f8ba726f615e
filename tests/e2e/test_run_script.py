"""The README's run path on a fresh machine: no sound card, no API key.

`scripts/run.sh` installs, then runs `runtime run agents/ --demo` and `runtime run agents/`; these tests run
the same two commands on the repository's own example agents (without the install step), with no PulseAudio
and no key in the environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import wave
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.daemon.harness import start_daemon

pytestmark = pytest.mark.timeout(90)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_AGENTS = ("desk", "kitchen", "minimal")
RECHECK_S = 2.5
"""Past the daemon's first look for a missing device again (2 s after the first)."""
NO_SOUND_CARD_NO_KEY = (
    "PULSE_SERVER", "XDG_RUNTIME_DIR", "GEMINI_API_KEY", "GOOGLE_API_KEY", "RUNTIME_BASE_URL", "RUNTIME_CA_FILE",
    "RUNTIME_TOKEN_URL", "RUNTIME_AGENTS", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY", "INVOCATION_ID",
    "NOTIFY_SOCKET", "WATCHDOG_USEC",
)  # fmt: skip


def fresh_machine_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NO_SOUND_CARD_NO_KEY}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"  # as scripts/run.sh sets it
    return env


def runtime_command() -> list[str]:
    """The console script scripts/run.sh calls, else the module."""
    script = Path(sys.executable).parent / "runtime"
    return [str(script)] if script.exists() else [sys.executable, "-m", "runtime"]


def missing_device_reports(log: str) -> Counter[str]:
    return Counter(m.group(1) for m in re.finditer(r"^\S+\s+(\w+): no (?:input|output) device matches", log, re.M))


def test_demo_prints_the_conversation_with_the_built_in_emulator(tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = subprocess.run(
        [*runtime_command(), "run", "agents/", "--demo", "--state-dir", str(state)],
        cwd=REPO, env=fresh_machine_env(), capture_output=True, text=True, timeout=75,
    )  # fmt: skip
    print(done.stdout, done.stderr[-3000:], sep="\n")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "NO GEMINI API KEY: the agents talk to the BUILT-IN EMULATOR, not to Gemini." in done.stderr
    conversation = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert "kitchen you │ Set a timer for five minutes." in conversation
    assert any(line.startswith("kitchen tool │ set_timer(minutes=5) →") for line in conversation), conversation
    assert any("Your five minute timer is running." in line for line in conversation if " agent │ " in line)
    assert any(line.startswith("kitchen usage │ ") for line in conversation)
    # the other example agents have no sound card here: each says so once and waits
    assert all(count == 1 for count in missing_device_reports(done.stderr).values()), done.stderr
    with wave.open(str(state / "demo-reply.wav")) as reply:
        seconds = reply.getnframes() / reply.getframerate()
        samples = np.frombuffer(reply.readframes(reply.getnframes()), dtype="<i2").astype(np.float64)
    assert seconds > 1.5, f"the spoken reply lasts {seconds:.2f} s"
    assert np.sqrt(np.mean(samples**2)) > 300, "the reply WAV is silent"


def test_demo_follows_a_scenario_given_to_the_built_in_emulator(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "speech_transcripts: [Set a timer for seven minutes.]\n"
        "rules:\n"
        "  - when: {text: timer}\n"
        "    then:\n"
        "      - say: Seven minutes, as the custom scenario says.\n"
    )
    done = subprocess.run(
        [*runtime_command(), "run", "agents/", "--demo", "--backend", "emulator", "--emulator-scenario", str(scenario),
         "--state-dir", str(tmp_path / "state")],
        cwd=REPO, env=fresh_machine_env(), capture_output=True, text=True, timeout=75,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "backend: built-in emulator at https://127.0.0.1:" in done.stderr
    assert f"(scenario {scenario})" in done.stderr
    conversation = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert "kitchen you │ Set a timer for seven minutes." in conversation, conversation
    assert any("as the custom scenario says." in line for line in conversation if " agent │ " in line)


def test_daemon_starts_on_the_example_agents_against_the_built_in_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in NO_SOUND_CARD_NO_KEY:
        monkeypatch.delenv(name, raising=False)
    daemon = start_daemon(REPO / "agents", tmp_path, env={"NO_PROXY": "127.0.0.1,localhost"})
    try:
        ready = daemon.notify.expect("READY", timeout_s=30)
        daemon.wait_line(r"BUILT-IN EMULATOR")
        daemon.wait_line(r"backend: built-in emulator at https://127\.0\.0\.1:\d+")
        status = ready.get("STATUS") or daemon.notify.expect("STATUS")["STATUS"]
        for agent in EXAMPLE_AGENTS:
            daemon.wait_line(rf"^\S+\s+{agent}: ")
        # watch past the first re-check of the missing devices (2 s): a report that is not repeated needs time
        time.sleep(RECHECK_S)
        exit_code = daemon.stop()
        daemon.notify.expect("STOPPING", timeout_s=5)  # queued on the socket while it stopped
    finally:
        daemon.stop()
        daemon.notify.close()
    log = "\n".join(daemon.lines)
    print(status, log[-3000:], sep="\n")
    assert exit_code == 0, log[-3000:]
    assert "3 agents" in status, status
    assert all(count == 1 for count in missing_device_reports(log).values()), log
