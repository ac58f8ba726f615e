"""Figures for docs/wake-word.md: detector CPU, false wakes per hour, detection rates, wake-to-first-byte.

    python -m tests.wake.measure --hours 1 --backends micro open

Needs espeak-ng. Slow on purpose (hours of audio); the test suite runs scaled-down versions.
"""

from __future__ import annotations

import argparse
import time
import zlib
from pathlib import Path
from tempfile import TemporaryDirectory

import anyio

from runtime.wake.detector import BUNDLED_MODELS, MicroWakeDetector, OpenWakeDetector, ThresholdDetector
from runtime.wake.gate import WakeGate
from tests.wake.scenes import BLOCK, RATE, EndOfAudio, Scene, WavMic, espeak
from tests.wake.soundscape import minutes

BACKENDS = {"micro": MicroWakeDetector, "open": OpenWakeDetector}
PHRASES = {"okay_nabu": "Okay Nabu", "hey_jarvis": "Hey Jarvis", "alexa": "Alexa", "hey_mycroft": "Hey Mycroft"}
VOICES = ("en-us", "en-us+m7", "en-gb+m3", "en-us+f3", "en+f2", "en-gb-x-rp+f4")
SPEEDS = (130, 160, 190)


def false_wakes(backend: str, model: str, hours: float, seed_text: str = "measure") -> str:
    detector: ThresholdDetector = BACKENDS[backend](model)
    seed = zlib.crc32(f"{seed_text}-{model}".encode())
    hits, cpu_s = [], 0.0
    for index, minute in enumerate(minutes(round(hours * 60), seed=seed)):
        started = time.process_time()
        for i in range(0, len(minute), BLOCK * 2):
            hits += [(index * 60 + hit.at_s % 60, hit.score) for hit in detector.process(minute[i : i + BLOCK * 2])]
        cpu_s += time.process_time() - started
    cpu = 100 * cpu_s / (hours * 3600)
    return f"{backend:5} {model:12} {len(hits) / hours:5.2f} false wakes/h over {hours:g} h  CPU {cpu:.2f} % {hits}"


def detection_rates(backend: str, model: str) -> str:
    woke, total, latencies = 0, 0, []
    per_voice = []
    for voice in VOICES:
        voice_hits = 0
        for speed in SPEEDS:
            speech = espeak(PHRASES[model], voice, speed)
            assert speech is not None
            scene = Scene(3.5 + len(speech) / RATE, noise_dbfs=-40.0, seed=total)
            end_s = scene.add(1.0, speech)
            detector = BACKENDS[backend](model)
            audio = scene.pcm()
            hits = [hit for i in range(0, len(audio), 640) for hit in detector.process(audio[i : i + 640])]
            detector.close()
            total += 1
            if hits:
                woke += 1
                voice_hits += 1
                latencies.append(hits[0].at_s - end_s)
        per_voice.append(f"{voice}:{voice_hits}/{len(SPEEDS)}")
    latency = f"median {1000 * sorted(latencies)[len(latencies) // 2]:.0f} ms after the phrase" if latencies else ""
    return f"{backend:5} {model:12} {woke}/{total} = {woke / total:.0%}  ({' '.join(per_voice)})  {latency}"


async def wake_to_first_byte(tmp: Path) -> str:
    """Wall time from the microphone delivering the block that completes the wake word to `read()` returning."""
    speech = espeak("Okay Nabu")
    assert speech is not None
    scene = Scene(4.0)
    scene.add(1.0, speech)
    stamps: list[float] = []
    mic = WavMic(scene.write(tmp / "wake.wav"), on_block=lambda _: stamps.append(time.perf_counter()))
    gate = WakeGate(mic, MicroWakeDetector("okay_nabu"), idle_timeout_s=1.0)
    await gate.open()
    try:
        await gate.read()
        returned = time.perf_counter()
        return f"wake-to-first-byte (detector + gate, micro okay_nabu): {1e6 * (returned - stamps[-1]):.0f} µs"
    except EndOfAudio:
        return "wake-to-first-byte: the phrase did not wake the detector"
    finally:
        await gate.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="hours of sound per model for false wakes")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=list(BACKENDS))
    parser.add_argument("--skip-false-wakes", action="store_true")
    parser.add_argument("--only-false-wakes", action="store_true")
    parser.add_argument("--seed", default="measure", help="another seed gives other hours of sound")
    args = parser.parse_args()
    if not args.only_false_wakes:
        with TemporaryDirectory() as tmp:
            print(anyio.run(wake_to_first_byte, Path(tmp)), flush=True)
        for backend in args.backends:
            for model in BUNDLED_MODELS:
                print(detection_rates(backend, model), flush=True)
    if not args.skip_false_wakes:
        for backend in args.backends:
            for model in BUNDLED_MODELS:
                print(false_wakes(backend, model, args.hours, args.seed), flush=True)


if __name__ == "__main__":
    main()
