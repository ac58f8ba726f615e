"""Audio through real ports on the headless rig: the figures that depend on how busy the machine is.

Python audio callbacks need the GIL, so on a machine with more runnable processes than cores a callback can
run late: PortAudio flags an xrun, the speaker underruns, a room echo shifts in time and the echo canceller
has to find it again. Those figures (xruns, underruns, frames lost before the port, ERLE on the live rig,
CPU, latencies) are measured here and reported — by this command, and by the test run in
docs/reliability.md — never asserted. The tests that drive the same runs (tests/audio/test_soak_rig.py,
tests/audio/test_echo_rig.py) assert only what load cannot change: every frame delivered once and in order,
no crash, the echo handling applied to every block; the canceller's ERLE is asserted on a replayed capture
(tests/audio/test_echo_replay.py).

    tests/rig/setup.sh && . /tmp/runtime-audio-rig/rig.env      # the rig: PulseAudio null sinks behind ALSA
    .venv/bin/python -m bench.audio_rig                         # 60 s of streaming, echo at -10 dB, both modes
    .venv/bin/python -m bench.audio_rig --seconds 300 --echo-volumes=-20dB,-10dB,-6dB,0dB --markdown out.md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from bench.audio_rig_echo import EchoRun, echo_on_rig, feeding, speech
from bench.markers import MAX_INDEX, MarkerScanner, numbered_blocks

MIC_RATE_HZ, SPEAKER_RATE_HZ = 16_000, 24_000
BLOCK_FRAMES = 320
FIRST_BURST = SPEAKER_RATE_HZ * 120 // 1000
DRAIN_TIMEOUT_S = 60.0
"""Longest wait for the speaker to play out what was queued after the run (a starved callback plays late)."""


class PortClock:
    """AudioObserver: when microphone blocks arrived, which speaker frames played when, when flushes went silent.

    Called from the audio threads; list appends are atomic under the GIL and nothing here blocks.
    """

    def __init__(self) -> None:
        self.mic_blocks: list[float] = []
        self.played: list[tuple[float, int, int]] = []
        """(time, first 24 kHz frame, frames) per output callback that played queued audio."""
        self.silences: list[float] = []

    def mic_block_ready(self, t_s: float, frames: int) -> None:
        self.mic_blocks.append(t_s)

    def samples_played(self, t_s: float, first_frame: int, frames: int) -> None:
        self.played.append((t_s, first_frame, frames))

    def silence_after_flush(self, t_s: float) -> None:
        self.silences.append(t_s)


@dataclass
class Turn:
    """One model turn written to the speaker: [start_frame, end_frame) at 24 kHz, interrupted or complete."""

    start_frame: int
    started_s: float
    end_frame: int = -1
    flushed_s: float | None = None


@dataclass(frozen=True)
class Order:
    """How a stream of block numbers compares with 0, 1, 2, ...: what arrived, what is missing, what is not in order."""

    received: int
    missing: int
    out_of_order: int
    """Numbers that repeat or go backwards: a frame delivered twice, or a later one before an earlier one."""


def block_order(numbers: list[int]) -> Order:
    """Unwraps the markers' 16-bit numbering (a jump back by more than half the range is a wrap)."""
    missing = out_of_order = 0
    previous: int | None = None
    for number in numbers:
        if previous is not None:
            while number <= previous - MAX_INDEX // 2:
                number += MAX_INDEX
            if number <= previous:
                out_of_order += 1
                continue
            missing += number - previous - 1
        previous = number
    return Order(len(numbers), missing, out_of_order)


@dataclass(frozen=True)
class Playout:
    """What the output callback played, checked against what was written and flushed (24 kHz frames)."""

    played_frames: int
    replayed_frames: int
    """Frames handed to the device a second time, or before frames written earlier."""
    unexplained_skips: int
    """Jumps forward in the queue that no flush explains (audio the speaker silently dropped)."""
    missing_frames: int
    """Frames of completed (not interrupted) turns that were never played."""


def playout(played: list[tuple[float, int, int]], turns: list[Turn]) -> Playout:
    """Played ranges must follow each other; a jump forward may only land where a flush dropped the queue."""
    flush_marks = {turn.end_frame for turn in turns if turn.flushed_s is not None}
    replayed = skips = 0
    covered: list[tuple[int, int]] = []
    position = 0
    for _, first, frames in played:
        if first < position:
            replayed += min(frames, position - first)
        elif first > position and first not in flush_marks:
            skips += 1
        covered.append((first, first + frames))
        position = max(position, first + frames)
    missing = 0
    for turn in turns:
        if turn.flushed_s is None and turn.end_frame >= 0:
            inside = sum(max(0, min(end, turn.end_frame) - max(start, turn.start_frame)) for start, end in covered)
            missing += max(0, turn.end_frame - turn.start_frame - inside)
    return Playout(sum(frames for _, _, frames in played), replayed, skips, missing)


def median_max(values: list[float]) -> tuple[float, float]:
    return (statistics.median(values), max(values)) if values else (float("nan"), float("nan"))


@dataclass(frozen=True)
class StreamingRun:
    """A conversation's worth of audio through one real microphone and speaker pair."""

    seconds: float
    cpu_pct: float
    """CPU of the measuring process (both ports, the event loop, the checks), % of one core."""
    load_1min: float
    cores: int
    realtime_callbacks: bool
    mic_xruns: int
    speaker_xruns: int
    underruns: int
    mic_dropped_frames: int
    """Frames the microphone ring overwrote because the reader fell more than its buffer behind."""
    device_losses: int
    fed: int
    """Numbered 20 ms blocks fed to the microphone."""
    mic: Order
    speaker: Playout
    turns: int
    flushes: int
    silences_after_flush: int
    rejected_frames: int
    mic_read_ms: tuple[float, float]
    first_frame_ms: tuple[float, float]
    flush_to_silence_ms: tuple[float, float]
    input_latency_ms: float
    output_latency_ms: float

    def rows(self) -> list[tuple[str, str]]:
        """(figure, value) for a report table."""
        return [
            (
                "run",
                f"{self.seconds:.0f} s, load {self.load_1min:.1f} on {self.cores} cores, "
                f"real-time callbacks {self.realtime_callbacks}",
            ),
            (
                "checked: once and in order (asserted by tests/audio/test_soak_rig.py)",
                f"{self.mic.received} microphone blocks, {self.speaker.played_frames} speaker frames of "
                f"{self.turns} turns ({self.flushes} interrupted)",
            ),
            ("xruns (PortAudio flags): microphone / speaker", f"{self.mic_xruns} / {self.speaker_xruns}"),
            ("speaker underruns (callback ran dry mid-turn)", str(self.underruns)),
            (
                "microphone blocks lost before the port / in the port's ring",
                f"{self.mic.missing} of {self.fed} / {self.mic_dropped_frames} frames",
            ),
            ("device losses (callbacks stalled 3 s)", str(self.device_losses)),
            ("CPU for the port pair (test process)", f"{self.cpu_pct:.1f} % of one core"),
            (
                "microphone callback → read()",
                f"median {self.mic_read_ms[0]:.1f} ms, max {self.mic_read_ms[1]:.1f} ms"
                f" (+ input latency {self.input_latency_ms:.0f} ms)",
            ),
            (
                "write() → first frame of a turn in the output callback",
                f"median {self.first_frame_ms[0]:.1f} ms (+ output latency {self.output_latency_ms:.0f} ms)",
            ),
            (
                "flush() → silence",
                f"median {self.flush_to_silence_ms[0]:.1f} ms, max {self.flush_to_silence_ms[1]:.1f}"
                f" ms (+ output latency {self.output_latency_ms:.0f} ms)",
            ),
        ]


async def talk(speaker: Any, seconds: float, turns: list[Turn]) -> None:
    """The model: 3 s turns one second apart; turns 2, 5, 8... are interrupted.

    Like the service, a turn's first 120 ms come at once and the rest in 40-120 ms bursts on a schedule
    faster than real time (absolute, so a late wake-up of this task is not carried into the next burst).
    """
    rng = np.random.default_rng(1)
    t = np.arange(3 * SPEAKER_RATE_HZ) / SPEAKER_RATE_HZ
    voice = (0.3 * 32767 * np.sin(2 * np.pi * 330.0 * t)).astype(np.int16)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline - 4:
        turn = Turn(speaker.written_frames, time.monotonic())
        turns.append(turn)
        sent = FIRST_BURST
        speaker.write(voice[:sent].tobytes())
        while sent < len(voice):
            due = turn.started_s + 0.75 * (sent - FIRST_BURST) / SPEAKER_RATE_HZ  # the writer stays >= 120 ms ahead
            await anyio.sleep(max(0.0, due - time.monotonic()))
            burst = int(SPEAKER_RATE_HZ * rng.uniform(0.04, 0.12))
            speaker.write(voice[sent : sent + burst].tobytes())
            sent += burst
        turn.end_frame = speaker.written_frames
        if len(turns) % 3 == 2:
            turn.flushed_s = time.monotonic()
            speaker.flush()
        else:
            speaker.end_of_turn()
        await anyio.sleep(1.0)


def played_out(clock: PortClock, turns: list[Turn]) -> bool:
    """Every flush has gone silent and the last complete turn has been played to its end."""
    flushes = sum(turn.flushed_s is not None for turn in turns)
    complete = [turn.end_frame for turn in turns if turn.flushed_s is None]
    end = max((first + frames for _, first, frames in clock.played), default=0)
    return len(clock.silences) >= flushes and end >= max(complete, default=0)


async def stream(seconds: float) -> StreamingRun:
    """Stream numbered microphone audio in and model turns out for `seconds` through the default devices."""
    from runtime.audio.devices import SoundDeviceIn
    from runtime.audio.devices_out import SoundDeviceOut

    mic, speaker, clock = SoundDeviceIn("default"), SoundDeviceOut("default"), PortClock()
    mic.observer = speaker.observer = clock
    fed = int(seconds * MIC_RATE_HZ / BLOCK_FRAMES)
    turns: list[Turn] = []
    reads: list[float] = []
    scanner, numbers = MarkerScanner(), []
    await mic.open()
    await speaker.open()
    cpu0, wall0 = time.process_time(), time.monotonic()
    try:
        with feeding(numbered_blocks(0, fed, BLOCK_FRAMES, MIC_RATE_HZ, tone_amplitude=3000)):
            async with anyio.create_task_group() as group:
                group.start_soon(talk, speaker, seconds, turns)
                while time.monotonic() - wall0 < seconds:
                    numbers += [number for _, number in scanner.feed(await mic.read())]
                    reads.append(time.monotonic())
        with anyio.move_on_after(DRAIN_TIMEOUT_S):
            while not played_out(clock, turns):
                await anyio.sleep(0.02)
    finally:
        cpu_s, wall_s = time.process_time() - cpu0, time.monotonic() - wall0
        await mic.close()
        await speaker.close()
    return summarize(mic, speaker, clock, turns, reads, numbers, fed, cpu_s, wall_s)


def summarize(
    mic: Any,
    speaker: Any,
    clock: PortClock,
    turns: list[Turn],
    reads: list[float],
    numbers: list[int],
    fed: int,
    cpu_s: float,
    wall_s: float,
) -> StreamingRun:
    count = min(len(reads), len(clock.mic_blocks))
    mic_ms = [1000 * (reads[i] - clock.mic_blocks[i]) for i in range(count // 10, count)]
    first_ms = [
        1000
        * (next(t for t, first, frames in clock.played if first <= turn.start_frame < first + frames) - turn.started_s)
        for turn in turns
        if any(first <= turn.start_frame < first + frames for _, first, frames in clock.played)
    ]
    flushed = [turn.flushed_s for turn in turns if turn.flushed_s is not None]
    silence_ms = [1000 * (s - f) for s, f in zip(clock.silences, flushed, strict=False)]
    return StreamingRun(
        seconds=wall_s,
        cpu_pct=100 * cpu_s / wall_s,
        load_1min=os.getloadavg()[0],
        cores=os.cpu_count() or 1,
        realtime_callbacks=bool(mic._keeper.realtime and speaker._keeper.realtime),
        mic_xruns=mic.xruns,
        speaker_xruns=speaker.xruns,
        underruns=speaker.underruns,
        mic_dropped_frames=mic.dropped_frames,
        device_losses=mic._keeper.losses + speaker._keeper.losses,
        fed=fed,
        mic=block_order(numbers),
        speaker=playout(clock.played, turns),
        turns=len(turns),
        flushes=len(flushed),
        silences_after_flush=len(clock.silences),
        rejected_frames=speaker._playback.rejected_frames,
        mic_read_ms=median_max(mic_ms),
        first_frame_ms=median_max(first_ms),
        flush_to_silence_ms=median_max(silence_ms),
        input_latency_ms=1000 * mic.latency_s,
        output_latency_ms=1000 * speaker.latency_s,
    )


@dataclass
class Report:
    """One run of this command: the streaming run and the echo runs."""

    streaming: StreamingRun | None = None
    echo: list[EchoRun] = field(default_factory=list)

    def markdown(self, command: str) -> str:
        now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        lines = [f"Measured {now} with `{command}` (figures depend on the machine's load).", ""]
        if self.streaming is not None:
            lines += ["| streaming figure | value |", "|---|---|"]
            lines += [f"| {name} | {value} |" for name, value in self.streaming.rows()]
            lines.append("")
        if self.echo:
            lines += [
                "| echo mode, loopback volume | " + " | ".join(EchoRun.HEADER) + " |",
                "|---|" + "---|" * len(EchoRun.HEADER),
            ]
            lines += [f"| {run.mode}, {run.volume} | " + " | ".join(run.cells()) + " |" for run in self.echo]
        return "\n".join(lines).rstrip() + "\n"


async def measure(seconds: float, volumes: list[str], modes: list[str]) -> Report:
    report = Report()
    if seconds > 0:
        report.streaming = await stream(seconds)
    model_voice, user_voice = speech(SPEAKER_RATE_HZ), speech(MIC_RATE_HZ)
    for volume in volumes:
        for mode in modes:
            report.echo.append(await echo_on_rig(mode, volume, model_voice, user_voice))  # type: ignore[arg-type]
    return report


def commas(text: str) -> list[str]:
    return [item for item in text.split(",") if item]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="streaming run length (0: skip it)")
    parser.add_argument(
        "--echo-volumes", type=commas, default=["-10dB"], help="loopback volumes, e.g. =-20dB,-10dB (room echo levels)"
    )
    parser.add_argument("--echo-modes", type=commas, default=["cancel", "half_duplex"], help="e.g. cancel,half_duplex")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the figures as Markdown here (default: stdout)")
    args = parser.parse_args(argv)
    if "PULSE_SERVER" not in os.environ:
        print("the audio rig is not running: tests/rig/setup.sh && . /tmp/runtime-audio-rig/rig.env", file=sys.stderr)
        return 2
    report = anyio.run(measure, args.seconds, args.echo_volumes, args.echo_modes)
    text = report.markdown("python -m bench.audio_rig " + " ".join(argv if argv is not None else sys.argv[1:]))
    if args.json:
        args.json.write_text(json.dumps(dataclasses.asdict(report), indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
