"""Start-up figures of the `runtime` command: `--help`, `validate` on 100 files, cold start, hot reload.

Cold start is process start → `READY=1` on `$NOTIFY_SOCKET` (sent once every agent's session is up);
reload is the agent file saved → the new session's `setupComplete`, stamped by the emulator.
"""

from __future__ import annotations

import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

from bench.runs import REPO, Unavailable, child_env
from bench.stats import unavailable

logger = logging.getLogger(__name__)

AGENT_TEMPLATE = """\
name: {name}
model: gemini-2.5-flash-native-audio-preview-12-2025
instructions: |
  You are assistant number {number}. Keep answers short and friendly.
voice: {{name: Kore, language: en-US}}
activity: {{mode: server, start_sensitivity: high, end_sensitivity: low, silence_duration_ms: 500}}
context:
  compression: {{trigger_tokens: 25600, target_tokens: 12800}}
session: {{resumption: true}}
generation: {{temperature: 0.7, max_output_tokens: 512}}
tools:
  - name: weather
    description: Current weather for a city.
    http: {{method: GET, url: "http://127.0.0.1:8080/weather?city={{city}}"}}
    parameters: {{type: object, properties: {{city: {{type: string}}}}, required: [city]}}
"""


def runtime_command() -> list[str]:
    """The `runtime` console script next to this interpreter (what users run), else `python -m runtime`."""
    script = Path(sys.executable).with_name("runtime")
    return [str(script)] if script.exists() else [sys.executable, "-m", "runtime"]


def timed(command: list[str], cwd: Path = REPO) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=120)
    return time.perf_counter() - started, done


def help_s(repeats: int) -> float:
    """Median wall time of `runtime --help`."""
    times = []
    for _ in range(repeats):
        elapsed, done = timed([*runtime_command(), "--help"])
        if done.returncode != 0:
            raise Unavailable(f"runtime --help exited {done.returncode}")
        times.append(elapsed)
    return round(statistics.median(times), 3)


def write_agents(directory: Path, count: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        path = directory / f"agent-{number:03d}.yaml"
        path.write_text(AGENT_TEMPLATE.format(name=f"agent-{number:03d}", number=number))
        path.chmod(0o644)


def validate_100_s(repeats: int) -> float:
    """Median wall time of `runtime validate` on a directory of 100 agent files (process start included)."""
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        agents = Path(tmp) / "agents"
        write_agents(agents, 100)
        times = []
        for _ in range(repeats):
            elapsed, done = timed([*runtime_command(), "validate", str(agents)])
            if done.returncode != 0:
                lines = (done.stdout + done.stderr).strip().splitlines()[-2:]
                raise Unavailable(f"runtime validate exited {done.returncode}: {' | '.join(lines)}"[:300])
            times.append(elapsed)
    return round(statistics.median(times), 3)


def silent_wav(path: Path, seconds: float, rate_hz: int = 16_000) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate_hz)
        wav.writeframes(bytes(int(seconds * rate_hz) * 2))


def file_agent(directory: Path, instructions: str) -> Path:
    """One agent on WAV-file devices (no sound card needed)."""
    path = directory / "bench.yaml"
    text = AGENT_TEMPLATE.format(name="bench", number=0).replace("You are assistant number 0", instructions)
    text += f'audio:\n  input: {{device: "file:{directory.parent / "mic.wav"}"}}\n'
    text += f'  output: {{device: "file:{directory.parent / "out.wav"}"}}\n'
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    os.replace(tmp, path)  # one atomic save, as an editor does
    return path


def wait_ready(notify: socket.socket, process: subprocess.Popen[str], timeout_s: float) -> float:
    """The time `READY=1` arrived on the notify socket."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Unavailable(f"runtime run exited {process.returncode} before READY=1")
        notify.settimeout(max(0.01, min(0.5, deadline - time.monotonic())))
        try:
            message = notify.recv(4096).decode(errors="replace")
        except TimeoutError:
            continue
        if "READY=1" in message.split("\n"):
            return time.monotonic()
    raise Unavailable(f"no READY=1 within {timeout_s:.0f} s")


def new_session_ready(emu: Any, after_conn: int, timeout_s: float) -> float | None:
    """When the emulator sent `setupComplete` on a connection newer than `after_conn` (None: not in time)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for message in list(emu.sent):
            if message["conn"] > after_conn and "setupComplete" in message["msg"]:
                return float(message["mono"])
        time.sleep(0.005)  # polling the record; the figure comes from the record's own time stamp
    return None


def drain(notify: socket.socket) -> None:
    """Read what the daemon sent since (as systemd does): a full datagram queue would block its sends."""
    notify.setblocking(False)
    try:
        while notify.recv(4096):
            pass
    except BlockingIOError:
        pass
    finally:
        notify.setblocking(True)


def reload_figure(emu: Any, agents: Path, reloads: int, notify: socket.socket) -> tuple[Any, int]:
    """Median seconds from an edit saved to the new session's setupComplete; edits 1 s apart (a person's
    pace), and how many edits brought no new session within 10 s (missed)."""
    times: list[float] = []
    for number in range(reloads):
        time.sleep(1.0)  # the pace of a person editing, not synchronisation
        drain(notify)
        newest = max((message["conn"] for message in list(emu.sent)), default=0)
        file_agent(agents, f"You are the bench agent, edition {number + 1}")
        saved = time.monotonic()
        ready = new_session_ready(emu, newest, 10)
        if ready is not None:
            times.append(ready - saved)
    missed = reloads - len(times)
    if missed:
        logger.warning("%d of %d edits brought no new session within 10 s", missed, reloads)
    if not times:
        return unavailable(f"none of {reloads} edits brought a new session within 10 s"), missed
    return round(statistics.median(times), 3), missed


def daemon_figures(reloads: int) -> dict[str, Any]:
    """{"cold_start_s", "reload_s", "reloads_missed"} of `runtime run` with one agent (in-process emulator)."""
    from runtime.emulator import EmulatorOptions, EmulatorThread

    with tempfile.TemporaryDirectory(prefix="bench-daemon-") as tmp, EmulatorThread(EmulatorOptions()) as emu:
        root = Path(tmp)
        agents, notify_path = root / "agents", root / "notify.sock"
        agents.mkdir()
        silent_wav(root / "mic.wav", 1.0)
        file_agent(agents, "You are the bench agent")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(notify_path))
        env = child_env() | {"NOTIFY_SOCKET": str(notify_path), "GEMINI_API_KEY": "bench-key"}
        command = [*runtime_command(), "run", str(agents), "--backend", "gemini", "--base-url", emu.base_url]
        command += ["--ca-file", str(emu.ca_file), "--state-dir", str(root / "state")]
        started = time.monotonic()
        daemon_log = (root / "daemon.log").open("w")
        process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=daemon_log, text=True)
        try:
            cold_start_s = round(wait_ready(notify, process, 60) - started, 3)
            reload_s, missed = reload_figure(emu, agents, reloads, notify)
        except Unavailable as why:
            tail = (root / "daemon.log").read_text().strip().splitlines()[-2:]
            raise Unavailable(f"{why}; the daemon said: {' | '.join(tail)}"[:400]) from None
        finally:
            process.kill()  # its clean stop is not measured here
            process.wait()
            notify.close()
            daemon_log.close()
    return {"cold_start_s": cold_start_s, "reload_s": reload_s, "reloads_missed": missed}
