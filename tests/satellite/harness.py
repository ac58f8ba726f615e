"""The real `wyoming-satellite` (PyPI 1.0.0, in .venv-wyoming-satellite/, made by `scripts/setup.sh test`)
on 127.0.0.1, its microphone a prepared raw file and its speaker a raw file with a write log."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SATELLITE_PYTHON = ROOT / ".venv-wyoming-satellite" / "bin" / "python"
HERE = Path(__file__).resolve().parent
SPEAKER_BYTES_PER_S = 24_000 * 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Satellite:
    port: int
    speaker: Path
    process: subprocess.Popen[bytes]
    stderr: Path

    @property
    def url(self) -> str:
        return f"wyoming://127.0.0.1:{self.port}"

    def played(self) -> bytes:
        return self.speaker.read_bytes() if self.speaker.exists() else b""

    def play_clock(self) -> list[tuple[float, float, int]]:
        """Each write to the speaker as (arrived, finished playing, bytes): a speaker with no buffer of its own
        plays a write from when it arrives or when the one before it finished, whichever is later."""
        log = Path(str(self.speaker) + ".log")
        rows = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
        clock, played = 0.0, []
        for arrived_s, size in rows:
            start = max(clock, float(arrived_s))
            clock = start + int(size) / SPEAKER_BYTES_PER_S
            played.append((float(arrived_s), clock, int(size)))
        return played


def raw_mic(path: Path, pcm16k: bytes, rate_hz: int, channels: int) -> Path:
    """Write 16 kHz mono int16 audio as the satellite's microphone file at `rate_hz` and `channels`
    (linear interpolation is enough: the test compares loudness, not bytes, when the format differs)."""
    samples = np.frombuffer(pcm16k, dtype="<i2").astype(np.float32)
    if rate_hz != 16_000:
        t_out = np.arange(int(len(samples) * rate_hz / 16_000)) * 16_000 / rate_hz
        samples = np.interp(t_out, np.arange(len(samples)), samples)
    frames = np.repeat(samples[:, None], channels, axis=1)
    path.write_bytes(frames.astype("<i2").tobytes())
    return path


@contextlib.contextmanager
def running_satellite(
    work: Path, mic_raw: Path, *, rate_hz: int = 16_000, channels: int = 1, port: int | None = None,
    name: str = "sat", wake: bool = False, started_file: Path | None = None, chunk_frames: int = 1024,
    event_log: Path | None = None,
) -> Iterator[Satellite]:
    """`wyoming-satellite` streaming continuously (no VAD), or after its own wake word (`wake`: loud audio
    after a quiet spell, `wake_stub.py`), stopped on exit. `event_log` gets a line for each `detection` and
    `transcript` the server sends (its `--detection-command` and `--transcript-command`)."""
    assert SATELLITE_PYTHON.exists(), "run scripts/setup.sh test (it installs wyoming-satellite)"
    port = port or free_port()
    speaker = work / f"{name}-speaker.raw"
    stderr = work / f"{name}-stderr.txt"
    command = [
        str(SATELLITE_PYTHON), "-m", "wyoming_satellite", "--uri", f"tcp://127.0.0.1:{port}", "--name", name,
        "--no-zeroconf", "--debug",
        "--mic-command", f"{sys.executable} {HERE / 'mic_source.py'} {mic_raw} {rate_hz} {channels}"
        f" {started_file or '-'} {chunk_frames}",
        "--mic-command-rate", str(rate_hz), "--mic-command-channels", str(channels),
        "--mic-command-samples-per-chunk", str(chunk_frames),
        "--snd-command", f"{sys.executable} {HERE / 'snd_sink.py'} {speaker}",
        "--snd-command-rate", "24000", "--snd-command-channels", "1",
    ]
    if event_log is not None:  # what the server told it, as its LED programs would see it
        command += ["--detection-command", f"sh -c 'echo detection $(cat) >> {event_log}'",
                    "--transcript-command", f"sh -c 'echo transcript >> {event_log}'"]
    if wake:
        command += ["--wake-command", f"{sys.executable} {HERE / 'wake_stub.py'}", "--wake-word-name", "okay_stub"]
    with stderr.open("ab") as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
    try:
        _wait_listening(port, process)
        yield Satellite(port, speaker, process, stderr)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"wyoming-satellite exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"wyoming-satellite did not listen on port {port} within {timeout_s} s")
