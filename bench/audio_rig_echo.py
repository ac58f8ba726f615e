"""The rig as a room: feed its microphone, route its speaker back into it, and measure the echo handling live.

Part of `python -m bench.audio_rig`. The rig (tests/rig/setup.sh) gives PortAudio a default microphone (the
PulseAudio source rig_mic, fed through the sink rig_micfeed) and a default speaker (the null sink
rig_speaker). A `module-loopback` from the speaker's monitor into rig_micfeed is the room's echo: delayed
(60 ms) and attenuated (`volume`). What the echo handling then removes depends on the machine's load (a
starved speaker callback shifts the echo in time), so it is reported, never asserted; the canceller's own
ERLE is asserted on a replayed capture (tests/audio/test_echo_replay.py).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

MIC_RATE_HZ, SPEAKER_RATE_HZ = 16_000, 24_000
BLOCK_FRAMES = 320
RIG_DIR = Path(os.environ.get("RIG_DIR", "/tmp/runtime-audio-rig"))
ECHO_ONLY = slice(100, 200)
"""Blocks 2-4 s into the run: the model talks alone and the canceller has converged."""
DOUBLE_TALK = slice(210, 290)
"""Blocks where the user talks over the model's last seconds."""
SILENCED_DB = 60.0
"""A ratio this large means one side was all zeros (dB against the 1e-3 power floor of silence)."""


def speech(rate_hz: int) -> np.ndarray:
    """The rig's espeak-ng sentence (written by tests/rig/setup.sh) at `rate_hz`."""
    from runtime.audio.files import read_wav_pcm16

    return np.frombuffer(read_wav_pcm16(RIG_DIR / "speech.wav", rate_hz), dtype="<i2")


@contextmanager
def feeding(pcm: np.ndarray, rate_hz: int = MIC_RATE_HZ) -> Iterator[subprocess.Popen[bytes]]:
    """Play `pcm` into the rig's microphone (sink rig_micfeed) with pacat, bit-exact at the source's rate.

    pacat talks to PulseAudio directly: a feeder that runs late only delays the audio (PulseAudio plays
    silence meanwhile), it never plays a stale buffer twice, so numbered blocks keep their order.
    """
    with tempfile.TemporaryFile() as raw:
        raw.write(pcm.astype("<i2").tobytes())
        raw.seek(0)
        command = ["pacat", "--playback", "--device=rig_micfeed", f"--rate={rate_hz}", "--channels=1"]
        process = subprocess.Popen([*command, "--format=s16le", "--raw", "--latency-msec=20"], stdin=raw)
        try:
            yield process
        finally:
            process.terminate()
            process.wait()


def pactl(*args: str) -> str:
    return subprocess.run(["pactl", *args], check=True, capture_output=True, text=True).stdout.strip()


@contextmanager
def echo_path(latency_ms: int = 60, volume: str = "-10dB") -> Iterator[None]:
    """Route what the speaker plays back into the microphone, delayed and attenuated (a room's echo)."""
    module = pactl(
        "load-module", "module-loopback", "source=rig_speaker.monitor", "sink=rig_micfeed",
        f"latency_msec={latency_ms}", "source_dont_move=true", "sink_dont_move=true",
    )  # fmt: skip
    try:
        for line in pactl("list", "short", "sink-inputs").splitlines():
            fields = line.split()
            if len(fields) > 3 and fields[3] == "module-loopback.c":
                pactl("set-sink-input-volume", fields[0], volume)
        yield
    finally:
        pactl("unload-module", module)


class RawTap:
    """Sits between the real microphone and the echo handling and keeps what the microphone heard."""

    def __init__(self, mic: Any) -> None:
        self.mic = mic
        self.block_frames = mic.block_frames
        self.blocks: list[bytes] = []

    @property
    def latency_s(self) -> float:
        return float(self.mic.latency_s)

    async def open(self) -> None:
        await self.mic.open()

    async def read(self) -> bytes:
        block: bytes = await self.mic.read()
        self.blocks.append(block)
        return block

    async def close(self) -> None:
        await self.mic.close()


class FarEndTap:
    """The speaker as the echo handling sees it (its played audio), counting what it hands over."""

    def __init__(self, speaker: Any) -> None:
        self.speaker = speaker
        self.frames = 0

    @property
    def rate_hz(self) -> int:
        return int(self.speaker.rate_hz)

    @property
    def latency_s(self) -> float:
        return float(self.speaker.latency_s)

    def read_played(self, out: Any) -> int:
        count = int(self.speaker.read_played(out))
        self.frames += count
        return count


def power(blocks: list[bytes]) -> float:
    x = np.frombuffer(b"".join(blocks), "<i2").astype(np.float64)
    return float(np.mean(x * x)) if x.size else 0.0


def db(ratio: float) -> float:
    return float(10 * np.log10(max(ratio, 1e-12)))


@dataclass(frozen=True)
class EchoRun:
    """The model talking through the speaker into a room echo, then the user talking over it."""

    HEADER: ClassVar[tuple[str, ...]] = (
        "echo at the mic", "echo removed (ERLE)", "canceller alone", "user over the residual",
        "user's voice kept", "delay hint", "xruns mic / speaker", "CPU",
    )  # fmt: skip
    mode: str
    volume: str
    blocks_read: int
    blocks_cancelled: int
    """Blocks the WebRTC canceller processed (`cancel`; 0 for `half_duplex`)."""
    blocks_gated: int
    """Blocks the double-talk gate silenced."""
    passed_or_silenced: bool
    """Every block the echo handling returned is the microphone's own (or the canceller's) block, or silence."""
    far_end_frames: int
    echo_dbfs: float
    erle_db: float
    canceller_erle_db: float | None
    user_over_residual_db: float
    user_kept_db: float
    delay_ms: int
    mic_xruns: int
    speaker_xruns: int
    cpu_pct: float

    def cells(self) -> list[str]:
        alone = f"{self.canceller_erle_db:.1f} dB" if self.canceller_erle_db is not None else "-"
        return [
            f"{self.echo_dbfs:.1f} dBFS", decibels(self.erle_db, "all (silence)"), alone,
            decibels(self.user_over_residual_db, "no residual (silence)"), decibels(self.user_kept_db, "-"),
            f"{self.delay_ms} ms", f"{self.mic_xruns} / {self.speaker_xruns}",
            f"{self.cpu_pct:.1f} %",
        ]  # fmt: skip


def decibels(value: float, over_silence: str) -> str:
    """A ratio in dB, or `over_silence` when its denominator was silence (the gate replaces blocks by zeros)."""
    if value >= SILENCED_DB:
        return over_silence
    if value <= -SILENCED_DB:
        return "none (silenced)"
    return f"{value:.1f} dB"


async def echo_on_rig(mode: str, volume: str, model_voice: np.ndarray, user_voice: np.ndarray) -> EchoRun:
    """6 s of the model's voice through the speaker and the room, the user talking over its last 2 s."""
    from runtime.audio.devices import SoundDeviceIn
    from runtime.audio.devices_out import SoundDeviceOut
    from runtime.audio.echo import CancelThenGate, DoubleTalkGate, EchoHandledIn, make_processor

    speaker = SoundDeviceOut("default")
    raw, far = RawTap(SoundDeviceIn("default")), FarEndTap(speaker)
    processor = make_processor(mode, block_frames=BLOCK_FRAMES, delay_ms=0)  # type: ignore[arg-type]
    tap: list[np.ndarray] = []
    if isinstance(processor, CancelThenGate):
        processor.tap = tap
    mic = EchoHandledIn(raw, far, processor)  # type: ignore[arg-type]
    cleaned: list[bytes] = []
    cpu0, wall0 = time.process_time(), time.monotonic()
    with echo_path(latency_ms=60, volume=volume):
        await speaker.open()
        await mic.open()
        try:
            speaker.write(model_voice[: SPEAKER_RATE_HZ * 6].tobytes())
            speaker.end_of_turn()
            for _ in range(200):  # 4 s of the model talking alone
                cleaned.append(await mic.read())
            with feeding(user_voice[MIC_RATE_HZ * 2 : MIC_RATE_HZ * 4]):  # the user talks over the last 2 s
                for _ in range(100):
                    cleaned.append(await mic.read())
        finally:
            await mic.close()
            await speaker.close()
    cpu_pct = 100 * (time.process_time() - cpu0) / (time.monotonic() - wall0)
    gate = processor.gate if isinstance(processor, CancelThenGate) else processor
    cancelled = [block.astype("<i2").tobytes() for block in tap]
    return EchoRun(
        mode=mode,
        volume=volume,
        blocks_read=len(raw.blocks),
        blocks_cancelled=len(tap),
        blocks_gated=gate.gated_blocks if isinstance(gate, DoubleTalkGate) else 0,
        passed_or_silenced=all(
            out in (heard, bytes(len(heard)), *cancelled[index : index + 1])
            for index, (out, heard) in enumerate(zip(cleaned, raw.blocks, strict=True))
        ),
        far_end_frames=far.frames,
        echo_dbfs=db(power(raw.blocks[ECHO_ONLY]) / 32767**2),
        erle_db=db(power(raw.blocks[ECHO_ONLY]) / max(power(cleaned[ECHO_ONLY]), 1e-3)),
        canceller_erle_db=db(power(raw.blocks[ECHO_ONLY]) / max(power(cancelled[ECHO_ONLY]), 1e-3)) if tap else None,
        user_over_residual_db=db(power(cleaned[DOUBLE_TALK]) / max(power(cleaned[ECHO_ONLY]), 1e-3)),
        user_kept_db=db(power(cleaned[DOUBLE_TALK]) / max(power(raw.blocks[DOUBLE_TALK]), 1e-3)),
        delay_ms=mic.delay_ms(),
        mic_xruns=raw.mic.xruns,
        speaker_xruns=speaker.xruns,
        cpu_pct=cpu_pct,
    )
