"""CPU of N wake-word agents listening on one shared microphone against the same agents on separate streams.

Each agent is what a `wake_word` agent does between conversations: its microphone read block by block at
real time (16 kHz, 20 ms) through its wake gate, whose detector is a real bundled model (a different one
per agent). Cases: "separate": every agent opens its own PortAudio stream, as before issue 21 (on the rig
every stream is the PulseAudio `default` source, which accepts several; on a bare ALSA `hw:` device only
the shared cases can run at all); "shared stream": the daemon's `DeviceHub` opens the device once and fans
the blocks out (`runtime/audio/shared.py`), each detector with its own front end; "shared stream + front
end": also one feature front end per device (`runtime/wake/frontend.py`), what the daemon does.
CPU is the whole process's (every thread: PortAudio callbacks, keepers, the event loop), per second of audio.

    flock /tmp/runtime-rig.lock bash -c '. /tmp/runtime-audio-rig/rig.env; \
        .venv/bin/python -m bench.shared_devices --seconds 20'
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import anyio

from runtime.audio.devices import SoundDeviceIn
from runtime.audio.ports import AudioIn
from runtime.audio.shared import DeviceHub
from runtime.wake.detector import MicroWakeDetector, OpenWakeDetector, ThresholdDetector
from runtime.wake.frontend import shared_features_for
from runtime.wake.gate import WakeGate

MODELS = ("okay_nabu", "hey_jarvis", "alexa", "hey_mycroft")


def microphones(count: int, shared: bool, device: str) -> list[AudioIn]:
    if not shared:
        return [SoundDeviceIn(device) for _ in range(count)]
    hub = DeviceHub()
    source = SoundDeviceIn(device)
    return [hub.capture(f"input:bench:{device}", lambda: source, block_frames=320) for _ in range(count)]


def detector(backend: str, index: int, mic: AudioIn, share_front_end: bool) -> ThresholdDetector:
    factory = MicroWakeDetector if backend == "micro" else OpenWakeDetector
    features = shared_features_for(mic)(backend) if share_front_end else None
    return factory(MODELS[index % len(MODELS)], features=features, pregate=False)  # the detectors themselves


CASES = {
    "separate": (False, False),
    "shared stream": (True, False),
    "shared stream + front end": (True, True),
}
"""How the agents get their audio: (one stream for all, one wake-word front end for all)."""


async def measure(count: int, case: str, backend: str, seconds: float, device: str) -> dict[str, Any]:
    shared, share_front_end = CASES[case]
    gates = [
        WakeGate(mic, detector(backend, i, mic, share_front_end), agent=f"agent{i}", preroll_ms=300)
        for i, mic in enumerate(microphones(count, shared, device))
    ]
    for gate in gates:
        await gate.open()
    try:
        async with anyio.create_task_group() as tg:
            for gate in gates:
                tg.start_soon(_listen, gate)
            await anyio.sleep(2.0)  # warm-up: streams started, interpreters primed
            cpu, wall = time.process_time(), time.monotonic()
            await anyio.sleep(seconds)
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
            tg.cancel_scope.cancel()
    finally:
        for gate in gates:
            await gate.close()
    return {
        "agents": count,
        "case": case,
        "backend": backend,
        "cpu_percent_of_one_core": round(100 * cpu / wall, 2),
        "seconds": round(wall, 1),
    }


async def _listen(gate: WakeGate) -> None:
    while True:  # a listening gate never returns a block (nobody says the word); read() loops inside
        await gate.read()


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    for backend in args.backends:
        for count in args.agents:
            for case in CASES:
                result = await measure(count, case, backend, args.seconds, args.device)
                results.append(result)
                print(json.dumps(result), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per case (after 2 s warm-up)")
    parser.add_argument("--agents", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--backends", nargs="+", default=["micro", "open"], choices=["micro", "open"])
    parser.add_argument("--device", default="default", help="the PortAudio input device")
    args = parser.parse_args()
    print(f"# load average at start: {os.getloadavg()}", flush=True)
    anyio.run(main_async, args)
    print(f"# load average at end: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
