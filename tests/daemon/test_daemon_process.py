"""`runtime run` as a real subprocess against the built-in emulator, with systemd's notify socket faked.

Covers the lifecycle systemd sees (READY, RELOADING + MONOTONIC_USEC, READY, WATCHDOG, STOPPING), every kind
of edit of the agents directory, SIGHUP and SIGTERM. Latencies are measured and printed, never asserted.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.daemon.harness import MODEL, Daemon, agent_yaml, make_agents, start_daemon

pytestmark = pytest.mark.timeout(90)

GAMMA_TOOLS = 'def ping(word: str) -> dict[str, str]:\n    """Echo a word."""\n    return {{"pong": word + "{v}"}}\n'
GAMMA_EXTRA = "tools:\n  - name: ping\n    python: gamma_tools:ping\n"


def starts(daemon: Daemon, agent: str) -> int:
    return len(daemon.matching(rf"\b{agent}: running \(start #"))


def save_atomically(path: Path, text: str) -> None:
    """How many editors save: write a temporary file beside it, then rename it over the original."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def reload_cycle(daemon: Daemon, change: object, plan: str) -> float:
    """Apply a change, wait for RELOADING=1 then READY=1 and the logged plan; returns save → READY (s)."""
    mark = len(daemon.lines)
    saved_at = time.monotonic()
    assert callable(change)
    change()
    reloading = daemon.notify.expect("RELOADING")
    now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert 0 <= now_usec - int(reloading["MONOTONIC_USEC"]) < 10_000_000
    daemon.notify.expect("READY")
    ready_s = time.monotonic() - saved_at
    daemon.wait_line(rf"reload \(.*\): {plan} in \d+ ms", after=mark)
    return ready_s


def test_ready_reload_cycles_sighup_and_sigterm(tmp_path: Path) -> None:
    agents = make_agents(tmp_path / "agents", ["alpha", "beta"])
    (agents / "gamma_tools.py").write_text(GAMMA_TOOLS.format(v=1))
    (agents / "gamma.yaml").write_text(agent_yaml("gamma", extra=GAMMA_EXTRA))
    daemon = start_daemon(agents, tmp_path, "--backend", "emulator", env={"WATCHDOG_USEC": "400000"})
    try:
        ready = daemon.notify.expect("READY")
        cold_start_s = time.monotonic() - daemon.started_at
        assert ready["STATUS"] == "3 agents: 3 running"
        assert {pid for _, pid, _ in daemon.notify.messages} == {daemon.process.pid}, "NotifyAccess=main"

        beta = (agents / "beta.yaml").read_text()
        timings = {
            "valid edit": reload_cycle(daemon, lambda: save_atomically(
                agents / "alpha.yaml", agent_yaml("alpha", instructions="Be briefer.")), "restart alpha"),
            "tool module edit": reload_cycle(daemon, lambda: save_atomically(
                agents / "gamma_tools.py", GAMMA_TOOLS.format(v=2)), "restart gamma"),
        }
        daemon.wait_line(r"alpha: running \(start #1\)", after=len(daemon.lines) // 2)
        assert starts(daemon, "beta") == 1, "unchanged agents are not touched"

        timings["invalid edit"] = reload_cycle(
            daemon, lambda: (agents / "beta.yaml").write_text(beta + "voice: {name: [Kore\n"), "no change")
        daemon.wait_line(r"beta\.yaml:\d+:\d+: error: .*\(the agent keeps running on its last good version\)")
        daemon.notify.expect_status("3 agents: 3 running; 1 invalid file")
        reload_cycle(daemon, lambda: (agents / "beta.yaml").write_text(beta), "no change")
        assert starts(daemon, "beta") == 1, "fixing a broken edit back to the running version costs nothing"

        reload_cycle(daemon, lambda: os.replace(agents / "beta.yaml", agents / "b.yaml"), "no change")
        assert starts(daemon, "beta") == 1, "renaming a file that names its agent changes nothing"

        timings["delete"] = reload_cycle(daemon, lambda: (agents / "alpha.yaml").unlink(), "stop alpha")
        timings["add"] = reload_cycle(
            daemon, lambda: (agents / "delta.yaml").write_text(agent_yaml("delta")), "start delta")
        daemon.wait_line(r"delta: running \(start #1\)")

        mark = len(daemon.lines)
        daemon.signal(signal.SIGHUP)
        daemon.notify.expect("RELOADING")
        assert daemon.notify.expect("READY")["STATUS"] == "3 agents: 3 running"
        daemon.wait_line(r"reload \(SIGHUP\): no change", after=mark)

        assert sum("WATCHDOG" in m for _, _, m in daemon.notify.messages) >= 3
        stop_began = time.monotonic()
        daemon.signal(signal.SIGTERM)
        stopping = daemon.notify.expect("STOPPING")
        assert stopping["STATUS"] == "stopping 3 agents"
        assert daemon.process.wait(15) == 0
        stop_s = time.monotonic() - stop_began
    finally:
        daemon.stop()
        daemon.notify.close()
    assert starts(daemon, "beta") == 1 and starts(daemon, "delta") == 1
    assert not daemon.matching(r"Traceback"), "no traceback reaches the log"
    print(f"\ncold start (exec -> READY=1): {cold_start_s * 1000:.0f} ms")
    print(f"stop (SIGTERM -> exit 0): {stop_s * 1000:.0f} ms")
    for what, seconds in timings.items():
        print(f"reload latency, {what} (file saved -> READY=1): {seconds * 1000:.0f} ms")


def test_every_log_line_names_its_agent_and_carries_a_level(tmp_path: Path) -> None:
    agents = make_agents(tmp_path / "agents", ["alpha"])
    daemon = start_daemon(agents, tmp_path, "--backend", "emulator", "--log-format", "json")
    try:
        daemon.notify.expect("READY")
        assert daemon.stop() == 0
    finally:
        daemon.stop()
        daemon.notify.close()
    import json

    entries = [json.loads(line) for line in daemon.lines]
    assert {e["level"] for e in entries} <= {"debug", "info", "warning", "error"}
    assert any(e["agent"] == "alpha" and "running" in e["msg"] for e in entries)


def test_invalid_files_and_a_tool_module_that_raises_at_import_are_reported_and_skipped(tmp_path: Path) -> None:
    agents = make_agents(tmp_path / "agents", ["alpha", "gamma"])
    (agents / "broken.yaml").write_text("model: [unclosed\n")
    (agents / "boom_tools.py").write_text("raise RuntimeError('tool module broken at import')\n")
    (agents / "boom.yaml").write_text(agent_yaml("boom", extra="tools:\n  - name: go\n    python: boom_tools:go\n"))
    (agents / "gamma_tools.py").write_text(GAMMA_TOOLS.format(v=1))
    (agents / "gamma.yaml").write_text(agent_yaml("gamma", extra=GAMMA_EXTRA))
    (agents / "ghost.yaml").write_text(f"name: ghost\nmodel: {MODEL}\naudio: {{input: {{device: no-such-card-xyz}}}}\n")
    daemon = start_daemon(agents, tmp_path, "--backend", "emulator")
    try:
        ready = daemon.notify.expect("READY")["STATUS"]
        assert ready == "3 agents: 2 running, 1 waiting for device (ghost); 2 invalid files"
        daemon.wait_line(r"broken\.yaml:\d+:\d+: error: .*\(skipped\)")
        daemon.wait_line(r"boom\.yaml:\d+:\d+: error: .*tool module broken at import")
        reload_cycle(daemon, lambda: save_atomically(agents / "gamma_tools.py", "raise ImportError('half-saved')\n"),
                     "no change")
        daemon.wait_line(r"gamma\.yaml:\d+:\d+: error: .*half-saved.*keeps running on its last good version")
        daemon.wait_line(r"\bgamma: running \(start #1")  # stderr is read by a thread: it may lag under load
        assert starts(daemon, "gamma") == 1
        assert daemon.stop() == 0
    finally:
        daemon.stop()
        daemon.notify.close()
    assert len(daemon.matching(r"ghost: .*waiting for it")) == 1, "a missing device is reported once"


def test_refuses_agent_files_other_users_can_change_unless_told_otherwise(tmp_path: Path) -> None:
    agents = make_agents(tmp_path / "agents", ["alpha", "beta"])
    (agents / "alpha.yaml").chmod(0o664)
    refused = start_daemon(agents, tmp_path, "--backend", "emulator")
    try:
        assert refused.process.wait(30) == 1
    finally:
        refused.stop()
        refused.notify.close()
    assert refused.matching(r"alpha\.yaml: writable by its group")
    (agents / "alpha.yaml").chmod(0o644)
    daemon = start_daemon(agents, tmp_path, "--backend", "emulator", notify=None)
    try:
        daemon.notify.expect("READY")
        mark = len(daemon.lines)
        (agents / "beta.yaml").chmod(0o666)  # the watcher may see this before SIGHUP does: either reload reports it
        daemon.signal(signal.SIGHUP)
        daemon.wait_line(r"reload \(SIGHUP\): no change", after=mark)
        daemon.wait_line(r"beta\.yaml: error: refusing it.*keeps running on its last good version", after=mark)
        assert daemon.stop() == 0
    finally:
        daemon.stop()
        daemon.notify.close()


def test_demo_plays_the_bundled_request_prints_the_conversation_and_exits_0(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    agents = tmp_path / "agents"
    shutil.copytree(Path(__file__).resolve().parents[2] / "agents", agents)
    environ = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "NOTIFY_SOCKET")}
    result = subprocess.run(
        [sys.executable, "-m", "runtime", "run", str(agents), "--demo", "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=80, env=environ,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "NO GEMINI API KEY" in result.stderr, "the emulator backend is announced loudly"
    lines = result.stdout.splitlines()
    assert any(" you " in line and "timer" in line.lower() for line in lines), result.stdout
    assert any(" tool " in line and "set_timer(" in line for line in lines), result.stdout
    assert any(" agent " in line for line in lines) and any(" usage " in line for line in lines), result.stdout
    import wave

    with wave.open(str(tmp_path / "state" / "demo-reply.wav")) as reply:
        assert reply.getframerate() == 24000 and reply.getnframes() > 24000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "gemini"], "--backend gemini needs a key: set GEMINI_API_KEY"),
        (["--backend", "emulator", "/nonexistent/agents"], "agents directory /nonexistent/agents does not exist"),
    ],
)
def test_a_daemon_that_cannot_start_says_why_and_exits_1(tmp_path: Path, args: list[str], message: str) -> None:
    import subprocess
    import sys

    agents = make_agents(tmp_path / "agents", ["alpha"])
    command = [sys.executable, "-m", "runtime", "run", "--state-dir", str(tmp_path / "state"), *args]
    if not args[-1].startswith("/"):
        command.append(str(agents))
    environ = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "NOTIFY_SOCKET",
                                                                 "CREDENTIALS_DIRECTORY", "RUNTIME_TOKEN_URL")}
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, env=environ)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
