"""The issue's "done when", at full scale: `runtime emulate --go-away-after 5` as a separate process, an
agent with a WAV microphone and a WAV speaker, ten handovers with tool calls in between, and the
emulator's record (`--record`) checked byte for byte against the WAV. Not collected by pytest (about a
minute); run `python -m tests.live.handover_proof`. Prints the handover gap and interrupt-to-silence.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

from runtime.audio.files import WavFileIn, WavFileOut
from runtime.live.endpoint import Endpoint
from runtime.live.session import AgentSession
from tests.live.conftest import Recorder, agent, speech_wav

SCENARIO = """\
speech_transcripts: [hello, what is the temperature, thanks, hello again, temperature please, bye,
                     hello, what is the temperature, thanks, hello again, temperature please, bye]
rules:
  - when: {text: temperature}
    then: [{tool_call: {name: kitchen_temperature, args: {room: kitchen}}}, {say_tool_result: kitchen_temperature}]
  - when: {text: ""}
    then: [{say: "OK, sure."}]
"""
TOOLS = "def kitchen_temperature(room: str) -> dict:\n    return {'room': room, 'celsius': 21}\n"


def recorded_audio(record: Path) -> bytes:
    chunks = []
    for line in record.read_text().splitlines():
        message = json.loads(line)["msg"]
        realtime = message.get("realtimeInput") or message.get("realtime_input") or {}
        audio = realtime.get("audio")
        if audio:
            data = audio["data"]
            chunks.append(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    return b"".join(chunks)


async def prove(work: Path, handovers_wanted: int = 10) -> int:
    speech_wav(work / "mic.wav", [("pause", 0.5)] + [("speech", 0.6), ("pause", 3.4)] * 16)
    (work / "scenario.yaml").write_text(SCENARIO)
    (work / "kitchen_tools.py").write_text(TOOLS)
    emulator = subprocess.Popen(
        [sys.executable, "-m", "runtime", "emulate", "--port", "0", "--go-away-after", "5", "--scenario",
         str(work / "scenario.yaml"), "--record", str(work / "record.jsonl"), "--ca-out", str(work / "ca.pem")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert emulator.stdout is not None
        url = emulator.stdout.readline().split()[-1].replace("wss://", "https://")
        spec = agent(tools=[{"name": "kitchen_temperature", "python": "kitchen_tools:kitchen_temperature"}])
        mic, events = WavFileIn(work / "mic.wav"), Recorder()
        speaker = WavFileOut(work / "reply.wav", prebuffer_ms=spec.audio.output.buffer_ms)
        session = AgentSession(
            spec, name="proof", base_dir=work, endpoint=Endpoint(base_url=url, ca_file=work / "ca.pem", api_key="k"),
            audio_in=mic, audio_out=speaker, state_dir=work / "state", events=events,
        )
        async with anyio.create_task_group() as group:
            await group.start(session.run)
            await events.until(lambda: len(session.stats.handovers) >= handovers_wanted, timeout_s=120)
            await events.until(lambda: session.uplink.buffered_frames == 0)
            group.cancel_scope.cancel()
        time.sleep(0.5)
    finally:
        emulator.terminate()
        emulator.wait()
    received, sent = recorded_audio(work / "record.jsonl"), mic.file_pcm
    usable = min(len(received), len(sent))
    exact = usable > len(sent) // 2 and received[:usable] == sent[:usable]
    tools = [t for t, kind, _ in events.entries if kind == "tool"]
    handover_at = [t for t, kind, value in events.entries if kind == "state" and value[0] == "handover"]
    between = sum(1 for a, b in itertools.pairwise(handover_at) if any(a < t < b for t in tools))
    gaps = session.stats.handovers
    print(f"handovers: {len(gaps)} ({sorted(set(events.states('handover')))})")
    print(f"microphone bytes streamed: {usable} of the WAV's {len(sent)}; every byte exactly once, in order: {exact}")
    print(f"tool calls: {len(tools)}, handover intervals with a tool call: {between}")
    print(f"mic-side switch (decision → new setupComplete): mean {sum(gaps) / len(gaps) * 1000:.1f} ms, "
          f"max {max(gaps) * 1000:.1f} ms; frames dropped: {session.uplink.dropped_frames}")
    print(f"speaker underruns: {speaker.underruns}, gaps {[round(g * 1000, 1) for g in speaker.gaps_s]} ms")
    return 0 if exact and len(gaps) >= handovers_wanted and between and not session.uplink.dropped_frames else 1


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO, format="%(relativeCreated)7d %(name)s: %(message)s")
    logging.getLogger("websockets").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as directory:
        sys.exit(anyio.run(prove, Path(directory)))
