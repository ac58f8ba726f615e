"""What a Wyoming satellite adds to an agent's audio path, measured with the real `wyoming-satellite` (PyPI
1.0.0, `scripts/setup.sh test` puts it in .venv-wyoming-satellite/) on 127.0.0.1: its microphone a file
whose samples count frames, its speaker a program that logs when it is given audio (tests/satellite).

- **uplink added**: a microphone frame captured (the satellite's mic program hands it over when its chunk
  is complete, as a sound card would) -> the 16 kHz block holding it returned by `SatelliteIn.read`;
- **downlink added**: the first audio of a reply written to `SatelliteOut` -> the satellite's sound program
  given it (wyoming-satellite 1.0.0 starts that program for each reply);
- **interrupt to silence**: `SatelliteOut.flush()` (barge-in) -> the end of the last audio the sound
  program was given, played at 24 kHz from when it arrived (a speaker with no buffer of its own; a real
  `aplay` adds its buffer, 500 ms by default).

The same figures for a local sound card are the bench's (`python -m bench`, bench/results/): uplink
p50 1.1 ms, downlink p50 14.2 ms, interrupt to silence p50 14.2 ms on the published run.

    .venv/bin/python -m bench.satellite_latency [--replies 10] [--mic-chunk 1024] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from runtime.agentfile.spec import Audio
from runtime.satellite.ports import SatelliteIn, SatelliteOut, satellite_ports
from runtime.satellite.states import CONNECTED
from tests.satellite.harness import Satellite, running_satellite

RATE_HZ = 16_000
WRAP = 32_768
"""Mic samples count frames modulo this (2.048 s at 16 kHz, far more than any latency measured)."""


def counting_mic(path: Path, seconds: float) -> Path:
    frames = np.arange(int(seconds * RATE_HZ)) % WRAP
    path.write_bytes(frames.astype("<i2").tobytes())
    return path


async def uplink_ms(mic: SatelliteIn, started_at: float, blocks: int) -> list[float]:
    """For each block: read time minus the capture time of its last frame (known from its sample value)."""
    added = []
    for _ in range(blocks):
        block = np.frombuffer(await mic.read(), dtype="<i2")
        now = time.monotonic()
        last = int(block[-1]) % WRAP
        elapsed_frames = (now - started_at) * RATE_HZ
        frame = last + WRAP * round((elapsed_frames - last) / WRAP)  # the wrap nearest to "now"
        added.append((now - (started_at + (frame + 1) / RATE_HZ)) * 1000)
    return added


async def replies(speaker: SatelliteOut, satellite: Satellite, count: int) -> tuple[list[float], list[float]]:
    """Alternately a reply played out and a reply cut after 0.5 s: first-audio and interrupt-to-silence."""
    first_audio, to_silence = [], []
    for n in range(count):
        before = len(satellite.play_clock())
        written_at = time.monotonic()
        speaker.write(bytes(24_000 * 2 * 2))  # two seconds, at once (the service sends faster than real time)
        speaker.end_of_turn()
        await _until(lambda before=before: len(satellite.play_clock()) > before)
        first_audio.append((satellite.play_clock()[before][0] - written_at) * 1000)
        if n % 2:
            await anyio.sleep(0.5)
            flushed_at = time.monotonic()
            speaker.flush()
            await anyio.sleep(0.6)
            ends = [end for arrived, end, _ in satellite.play_clock()[before:] if arrived <= flushed_at + 0.3]
            to_silence.append((max(ends) - flushed_at) * 1000)
        await _until(lambda: not speaker.playing)
        await anyio.sleep(0.3)
    return first_audio, to_silence


async def _until(condition: Any, timeout_s: float = 30.0) -> None:
    with anyio.fail_after(timeout_s):
        while not condition():
            await anyio.sleep(0.005)


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(values), "p50": round(statistics.median(values), 1), "p95": round(pick(0.95), 1),
            "max": round(ordered[-1], 1)}


async def measure(work: Path, reply_count: int, chunk_frames: int) -> dict[str, Any]:
    mic_raw = counting_mic(work / "mic.raw", 120.0)
    started_file = work / "mic-started"
    with running_satellite(work, mic_raw, started_file=started_file, chunk_frames=chunk_frames) as satellite:
        mic, speaker, link = satellite_ports(Audio.model_validate({"satellite": satellite.url}))
        async with anyio.create_task_group() as group:
            group.start_soon(link.run)
            await _until(lambda: link.status == CONNECTED and started_file.exists())
            started_at = float(started_file.read_text())
            uplink = await uplink_ms(mic, started_at, 5 * 50)  # five seconds of 20 ms blocks
            group.start_soon(_drain, mic)
            first_audio, to_silence = await replies(speaker, satellite, reply_count)
            group.cancel_scope.cancel()
    return {"uplink_added_ms": percentiles(uplink), "downlink_first_audio_ms": percentiles(first_audio),
            "interrupt_to_silence_ms": percentiles(to_silence), "pacer_lead_ms": link.pacer.lead_s * 1000,
            "pacer_chunk_ms": link.pacer.chunk_bytes / 48, "satellite_mic_chunk_frames": chunk_frames}


async def _drain(mic: SatelliteIn) -> None:
    while True:
        await mic.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.satellite_latency", description=__doc__.split("\n")[0])
    parser.add_argument("--replies", type=int, default=10)
    parser.add_argument("--mic-chunk", type=int, default=1024,
                        help="the satellite's --mic-command-samples-per-chunk (default: its own default, 1024)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="satellite-bench-") as work:
        figures = anyio.run(measure, Path(work), args.replies, args.mic_chunk)
    text = json.dumps(figures, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
