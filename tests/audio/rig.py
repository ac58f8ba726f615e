"""Helpers for tests on the PulseAudio rig (tests/rig/setup.sh): record the speaker, feed the microphone."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

RIG_DIR = Path(os.environ.get("RIG_DIR", "/tmp/runtime-audio-rig"))
needs_rig = pytest.mark.skipif("PULSE_SERVER" not in os.environ, reason="audio rig not running (PULSE_SERVER unset)")


def rms(samples: np.ndarray) -> float:
    x = np.asarray(samples, dtype=np.float64)
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0


def peak_hz(samples: np.ndarray, rate_hz: int) -> float:
    x = np.asarray(samples, dtype=np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate_hz)[int(np.argmax(spectrum))])


def sine(freq_hz: float, seconds: float, rate_hz: int, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    return (level * 32767 * np.sin(2 * np.pi * freq_hz * t)).astype(np.int16)


def speech(rate_hz: int, seconds: float | None = None) -> np.ndarray:
    """The rig's espeak-ng sentence, resampled to `rate_hz`."""
    import soxr

    with wave.open(str(RIG_DIR / "speech.wav")) as wav:
        source_rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    out = soxr.resample(samples, source_rate, rate_hz).astype(np.int16)
    return out[: int(seconds * rate_hz)] if seconds else out


def device_index(name: str, kind: str) -> int:
    import sounddevice as sd

    for i, device in enumerate(sd.query_devices()):
        if device["name"] == name and device[f"max_{kind}_channels"] > 0:
            return i
    raise LookupError(f"{name} not found: is the rig running?")


class Recorder:
    """Records an ALSA capture device (e.g. rig_speaker_monitor) with a callback stream."""

    def __init__(self, name: str, rate_hz: int) -> None:
        import sounddevice as sd

        self.rate_hz = rate_hz
        self.chunks: list[np.ndarray] = []
        self.stream = sd.InputStream(
            device=device_index(name, "input"), samplerate=rate_hz, channels=1, dtype="int16", callback=self._callback
        )

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        self.chunks.append(indata[:, 0].copy())

    def samples(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)

    def __enter__(self) -> Recorder:
        self.stream.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.close()


def feed_microphone(samples: np.ndarray, rate_hz: int) -> threading.Thread:
    """Play samples into rig_micfeed (they come out of the default microphone) on a thread."""
    import sounddevice as sd

    def play() -> None:
        with sd.OutputStream(
            device=device_index("rig_micfeed", "output"), samplerate=rate_hz, channels=1, dtype="int16"
        ) as stream:
            stream.write(samples.reshape(-1, 1))

    thread = threading.Thread(target=play)
    thread.start()
    return thread


def pactl(*args: str) -> str:
    return subprocess.run(["pactl", *args], check=True, capture_output=True, text=True).stdout.strip()


@contextmanager
def echo_path(latency_ms: int = 60, volume: str = "30%") -> Iterator[None]:
    """Route what the speaker plays back into the microphone, delayed and attenuated (a room's echo)."""
    module = pactl(
        "load-module",
        "module-loopback",
        "source=rig_speaker.monitor",
        "sink=rig_micfeed",
        f"latency_msec={latency_ms}",
        "source_dont_move=true",
        "sink_dont_move=true",
    )
    try:
        for line in pactl("list", "short", "sink-inputs").splitlines():
            fields = line.split()
            if len(fields) > 3 and fields[3] == "module-loopback.c":
                pactl("set-sink-input-volume", fields[0], volume)
        yield
    finally:
        pactl("unload-module", module)


class LossyServer:
    """A private PulseAudio server behind the ALSA devices rig_lossy / rig_lossy_mic: stop it to unplug them."""

    def __init__(self) -> None:
        self.dir = RIG_DIR / "lossy"
        self.env = dict(
            os.environ,
            XDG_RUNTIME_DIR=str(self.dir / "run"),
            PULSE_SERVER=f"unix:{self.dir / 'run' / 'pulse' / 'native'}",
        )
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        server = subprocess.Popen(
            [
                "pulseaudio",
                "-n",
                "-F",
                str(self.dir / "lossy.pa"),
                "--exit-idle-time=-1",
                "--daemonize=no",
                "--log-target=stderr",
                "--log-level=error",
            ],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._processes.append(server)
        deadline = time.monotonic() + 10
        while subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode != 0:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the lossy PulseAudio server did not start")
            time.sleep(0.05)
        # A reader on the monitor keeps the null sink ticking in 10 ms steps (as the main rig does).
        self._processes.append(
            subprocess.Popen(
                ["pacat", "--record", "--device=lossy.monitor", "--latency-msec=10", "--raw"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def stop(self) -> None:
        for process in reversed(self._processes):
            process.terminate()
            process.wait()
        self._processes.clear()
