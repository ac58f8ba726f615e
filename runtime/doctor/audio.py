"""Audio devices the agents name: each exists and opens at a usable rate, the microphone is not silent (one
second is read and its level reported), the speaker opens (nothing is played but silence)."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from runtime.agentfile.loader import LoadedAgent
from runtime.audio.ports import MIC_RATE_HZ, SPEAKER_RATE_HZ
from runtime.doctor.report import Check, failed, passed, skipped, warned

FAMILY = "audio"
LISTEN_S = 1.0
SILENT_DBFS = -80.0
"""Below this a microphone is taken as silent: even a quiet room reads -70 to -50 dBFS on a real capsule."""
QUIET_DBFS = -65.0
PERIOD_MS = 20


@dataclass(frozen=True)
class DeviceUse:
    """One device an agent names, and which agents name it."""

    kind: str
    """input | output"""
    wanted: str | int
    users: tuple[str, ...]


def device_uses(agents: list[LoadedAgent]) -> tuple[list[DeviceUse], list[Check]]:
    """Distinct devices to open; `file:` and `null` devices need no hardware and are only listed."""
    found: dict[tuple[str, str], list[str]] = {}
    wanted_of: dict[tuple[str, str], str | int] = {}
    checks: list[Check] = []
    for agent in agents:
        for kind, role, wanted in (("input", "microphone", agent.spec.audio.input.device),
                                   ("output", "speaker", agent.spec.audio.output.device)):
            if isinstance(wanted, str) and (wanted.startswith("file:") or wanted == "null"):
                checks.append(skipped(FAMILY, f"{agent.name} {role}", f"{wanted}: no device to open"))
                continue
            key = (kind, str(wanted))
            found.setdefault(key, []).append(f"{agent.name} {role}")
            wanted_of[key] = wanted
    return [DeviceUse(key[0], wanted_of[key], tuple(users)) for key, users in found.items()], checks


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level of int16 samples in dB relative to full scale (-inf for digital silence)."""
    if samples.size == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    return 20 * math.log10(rms / 32768) if rms > 0 else -math.inf


def judge_level(name: str, dbfs: float, rate_hz: int) -> Check:
    """A microphone's level: silent fails, very quiet warns, anything else passes."""
    shown = "digital silence" if dbfs == -math.inf else f"level {dbfs:.0f} dBFS"
    opened = f"opens at {rate_hz} Hz, {LISTEN_S:g} s read: {shown}"
    if dbfs < SILENT_DBFS:
        hint = "muted or unplugged? check `pactl list sources`, alsamixer (capture switch) and the cable"
        return failed(FAMILY, name, opened, hint)
    if dbfs < QUIET_DBFS:
        return warned(FAMILY, name, opened, "very quiet: raise the capture volume (alsamixer, pactl set-source-volume)")
    return passed(FAMILY, name, opened)


def check_devices(agents: list[LoadedAgent]) -> list[Check]:
    uses, checks = device_uses(agents)
    if not uses:
        return checks or [skipped(FAMILY, "devices", "no agent uses an audio device")]
    from runtime.audio.devices import import_sounddevice, quiet_stderr
    from runtime.errors import DeviceError

    try:
        with quiet_stderr():
            import_sounddevice()
    except DeviceError as error:
        return checks + [failed(FAMILY, ", ".join(use.users), str(error), "apt install libportaudio2") for use in uses]
    for use in uses:
        checks.append(check_microphone(use) if use.kind == "input" else check_speaker(use))
    return checks


def _name(use: DeviceUse) -> str:
    return f"{', '.join(use.users)} ({use.wanted})"


def check_microphone(use: DeviceUse) -> Check:
    from runtime.audio.devices import StreamOptions, open_portaudio_stream, quiet_stderr
    from runtime.errors import DeviceError

    chunks: list[np.ndarray] = []
    lock = threading.Lock()

    def callback(indata: Any, frames: int, time_info: Any, status: Any) -> None:
        with lock:
            chunks.append(np.array(indata[:, 0], dtype=np.int16))

    try:
        with quiet_stderr():
            stream = open_portaudio_stream(use.wanted, "input", MIC_RATE_HZ, PERIOD_MS, StreamOptions(),
                                           callback=callback)
    except DeviceError as error:
        return failed(FAMILY, _name(use), str(error), "plug the microphone in, or name one `runtime devices` lists")
    try:
        time.sleep(LISTEN_S)
    finally:
        stream.stop()
        stream.close()
    with lock:
        samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    if samples.size == 0:
        return failed(FAMILY, _name(use), "opened, but no audio arrived in a second", "the device is stuck: replug it")
    return judge_level(_name(use), level_dbfs(samples), int(stream.samplerate))


def check_speaker(use: DeviceUse) -> Check:
    from runtime.audio.devices import StreamOptions, open_portaudio_stream, quiet_stderr
    from runtime.errors import DeviceError

    def callback(outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        outdata.fill(0)

    try:
        with quiet_stderr():
            stream = open_portaudio_stream(use.wanted, "output", SPEAKER_RATE_HZ, PERIOD_MS, StreamOptions(),
                                           callback=callback)
    except DeviceError as error:
        return failed(FAMILY, _name(use), str(error), "plug the speaker in, or name one `runtime devices` lists")
    try:
        time.sleep(0.2)
    finally:
        stream.stop()
        stream.close()
    return passed(FAMILY, _name(use), f"opens at {int(stream.samplerate)} Hz (silence played)")

