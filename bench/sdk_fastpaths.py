"""What the runtime's paths around google-genai's pydantic models buy: CPU of one streaming agent with each
fast path on or off, measured in the same run.

    .venv/bin/python -m bench.sdk_fastpaths [--repetitions 9] [--reply-s 12] [--json FILE]

The emulator runs in this process; each measurement is a fresh child process running one real
`AgentSession` (null speaker, a silent microphone streaming at real-time pace) with `Endpoint.fast_paths`
set to one of four modes. The child asks for a reply of `--reply-s` seconds of speech, streamed in 40 ms
chunks with output transcription, after a short warm-up turn, and reports its own process CPU time (all
threads) from the reply's first audio to its `turnComplete`. Modes run interleaved, in a rotating order,
`--repetitions` times; each mode's figure is the median with the spread (min–max), and its ratio to the
mode without fast paths is the median of the per-repetition ratios, each taken within one repetition so
that a change of machine load between repetitions cancels out.

Beside it, what each path costs per message, in this process with a stand-in socket (best of 5 rounds of
2000): reading one 40 ms audio message (the SDK's receive step, or `ServerMessageParser.parse`) and sending
one 20 ms microphone block (`send_realtime_input`, or the pre-serialised frame). These explain the
end-to-end figure and carry over to slower machines: multiply by 25 messages and 50 blocks a second.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import anyio

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
MODES = {"none": (False, False), "receive": (True, False), "send": (False, True), "both": (True, True)}
"""Mode name → (receive fast path, send fast path)."""
CHAR_S = 0.06
"""Seconds of emulator speech per character of the reply (runtime/emulator/voice.py)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sdk_fastpaths", description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=9)
    parser.add_argument("--reply-s", type=float, default=12.0, help="seconds of speech in the measured reply")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--child", choices=sorted(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--ca-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    if args.child:
        print(json.dumps(anyio.run(_measure_one, args.child, args.base_url, args.ca_file)))
        return 0
    result = anyio.run(_measure_all, args.repetitions, args.reply_s)
    result["per_message_us"] = per_message_costs()
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


async def _measure_all(repetitions: int, reply_s: float) -> dict[str, Any]:
    from runtime.emulator import EmulatorOptions, parse_scenario, serve

    story = ("Once upon a time a kettle sang to the moon. " * 100)[: round(reply_s / CHAR_S)]
    scenario = parse_scenario({"rules": [{"when": {"text": "story"}, "then": [{"say": story}]}]})
    runs: list[dict[str, Any]] = []
    names = list(MODES)
    async with serve(EmulatorOptions(port=0, scenario_obj=scenario, audio_chunk_ms=40, keep_history=False)) as emu:
        for repetition in range(repetitions):
            order = names[repetition % len(names):] + names[: repetition % len(names)]
            for mode in order:
                command = [sys.executable, "-m", "bench.sdk_fastpaths", "--child", mode,
                           "--base-url", emu.base_url, "--ca-file", str(emu.ca_file)]
                done = await anyio.run_process(command, check=True)
                run = json.loads(done.stdout.decode().strip().splitlines()[-1])
                runs.append({"repetition": repetition, "mode": mode, **run})
                print(f"repetition {repetition + 1}/{repetitions} {mode:>7}: {run['cpu_percent']:.2f} % of a core",
                      file=sys.stderr)
    return summarise(runs, reply_s)


def summarise(runs: list[dict[str, Any]], reply_s: float) -> dict[str, Any]:
    """Median and spread per mode; ratio to `none` as the median of per-repetition ratios."""
    by_mode: dict[str, Any] = {}
    for mode in MODES:
        figures = [run["cpu_percent"] for run in runs if run["mode"] == mode]
        ratios = [
            run["cpu_percent"] / base["cpu_percent"]
            for run in runs if run["mode"] == mode
            for base in runs if base["mode"] == "none" and base["repetition"] == run["repetition"]
        ]
        by_mode[mode] = {
            "cpu_percent_median": statistics.median(figures),
            "cpu_percent_min": min(figures),
            "cpu_percent_max": max(figures),
            "ratio_to_none_median": statistics.median(ratios),
            "ratio_to_none_min": min(ratios),
            "ratio_to_none_max": max(ratios),
        }
    import google.genai

    return {"reply_s": reply_s, "google_genai": google.genai.__version__, "cpu_count": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d"), "modes": by_mode, "runs": runs}


def report(result: dict[str, Any]) -> str:
    lines = [f"CPU of one agent while the model speaks ({result['reply_s']:g} s reply, google-genai "
             f"{result['google_genai']}, {result['cpu_count']} cores, {result['date']}):",
             "mode (fast paths on)   CPU % of a core: median (min-max)   ratio to none: median (min-max)"]
    for mode, figures in result["modes"].items():
        lines.append(
            f"{mode:<22} {figures['cpu_percent_median']:6.2f} ({figures['cpu_percent_min']:.2f}-"
            f"{figures['cpu_percent_max']:.2f})             {figures['ratio_to_none_median']:.3f} "
            f"({figures['ratio_to_none_min']:.3f}-{figures['ratio_to_none_max']:.3f})"
        )
    costs = result.get("per_message_us")
    if costs:
        lines.append(f"read one 40 ms audio message: SDK {costs['receive_sdk']:.1f} µs, fast path "
                     f"{costs['receive_fast']:.1f} µs; send one 20 ms block: SDK {costs['send_sdk']:.1f} µs, fast path "
                     f"{costs['send_fast']:.1f} µs (best of 5 rounds of 2000)")
    return "\n".join(lines)


class _StandInSocket:
    """The part of a websockets connection both paths touch: `recv` gives one frame, `send` keeps nothing."""

    def __init__(self, frame: bytes) -> None:
        self.frame = frame

    async def recv(self, decode: bool | None = None) -> bytes:
        return self.frame

    async def send(self, message: str) -> None:
        pass


def per_message_costs(rounds: int = 5, count: int = 2000) -> dict[str, float]:
    """Microseconds per message of each path, best of `rounds` (the least disturbed by other work)."""
    import timeit

    from google import genai
    from google.genai import types
    from google.genai.live import AsyncSession

    from runtime.live.receive import ServerMessageParser
    from runtime.live.uplink import MIC_MIME_TYPE, audio_frame_json

    chunk = bytes(range(256)) * 7 + bytes(128)  # 40 ms at 24 kHz: 1920 bytes
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": base64.b64encode(chunk).decode()}}
    frame = json.dumps({"serverContent": {"modelTurn": {"role": "model", "parts": [part]}}}).encode()
    socket = _StandInSocket(frame)
    live = AsyncSession(api_client=genai.Client(api_key="bench-key")._api_client, websocket=socket)  # type: ignore[arg-type]
    parser = ServerMessageParser(_Count())
    block = bytes(640)

    def drive(coroutine: Any) -> None:  # neither path suspends on the stand-in socket
        with contextlib.suppress(StopIteration):
            coroutine.send(None)

    paths = {
        "receive_sdk": lambda: drive(live._receive()),
        "receive_fast": lambda: parser.parse(frame),
        "send_sdk": lambda: drive(live.send_realtime_input(audio=types.Blob(data=block, mime_type=MIC_MIME_TYPE))),
        "send_fast": lambda: drive(socket.send(audio_frame_json(block))),
    }
    return {name: 1e6 * min(timeit.repeat(path, number=count, repeat=rounds)) / count for name, path in paths.items()}


class _Count:
    malformed_audio_parts = 0


async def _measure_one(mode: str, base_url: str, ca_file: Path) -> dict[str, Any]:
    """One agent in this process: warm-up turn, then the measured reply."""
    from runtime.agentfile.spec import AgentSpec
    from runtime.audio.files import NullOut, WavFileIn
    from runtime.live.endpoint import Endpoint
    from runtime.live.sdk import FastPaths
    from runtime.live.session import AgentSession

    receive, send = MODES[mode]
    with tempfile.TemporaryDirectory() as folder:
        mic_path = Path(folder) / "silence.wav"
        with wave.open(str(mic_path), "wb") as mic_file:
            mic_file.setnchannels(1)
            mic_file.setsampwidth(2)
            mic_file.setframerate(16000)
            mic_file.writeframes(bytes(3200))
        endpoint = Endpoint(base_url=base_url, ca_file=ca_file, api_key="bench-key",
                            fast_paths=FastPaths(receive=receive, send=send))
        turns = _Turns()
        session = AgentSession(AgentSpec.model_validate({"model": MODEL}), name="bench", base_dir=Path(folder),
                               endpoint=endpoint, audio_in=WavFileIn(mic_path), audio_out=NullOut(),
                               state_dir=Path(folder) / "state", events=turns)
        async with anyio.create_task_group() as group:
            await group.start(session.run)
            await session.send_text("hello")  # warm-up: first messages of each kind, first pydantic builds
            await turns.completed(1)
            warm_up_bytes = session.downlink.stats.audio_bytes
            await session.send_text("tell me a story")
            with anyio.fail_after(600):
                while session.downlink.stats.audio_bytes == warm_up_bytes:
                    await anyio.sleep(0.005)
            cpu_s, wall_s = time.process_time(), time.monotonic()
            await turns.completed(2)
            cpu_s, wall_s = time.process_time() - cpu_s, time.monotonic() - wall_s
            group.cancel_scope.cancel()
    return {"cpu_s": cpu_s, "wall_s": wall_s, "cpu_percent": 100 * cpu_s / wall_s,
            "audio_bytes": session.downlink.stats.audio_bytes, "malformed": session.stats.malformed_audio_parts}


class _Turns:
    """Session events that only count completed turns (a null sink otherwise)."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = anyio.Event()

    def state(self, agent: str, state: str, detail: str = "") -> None:
        if state == "turn_complete":
            self.count += 1
            self._changed.set()
            self._changed = anyio.Event()

    async def completed(self, turns: int) -> None:
        with anyio.fail_after(600):
            while self.count < turns:
                await self._changed.wait()

    def transcript(self, agent: str, role: str, text: str) -> None:
        pass

    def text(self, agent: str, text: str) -> None:
        pass

    def tool_call(self, agent: str, outcome: Any) -> None:
        pass

    def usage(self, agent: str, usage: Any) -> None:
        pass


if __name__ == "__main__":
    sys.exit(main())
