"""Memory soak: N concurrent speaking sessions against one `runtime emulate` process, RSS sampled over time.

Run: `.venv/bin/python -m tests.emulator.soak --sessions 20 --seconds 120`
Connections are cut every --connection-limit seconds (goAway first), so sessions also resume all the time.
"""

from __future__ import annotations

import argparse
import os
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from google import genai
from google.genai import errors, types
from websockets.exceptions import ConnectionClosed

from tests.emulator.helpers import MODEL, send_audio, silence, speech

UTTERANCE = speech(1.0) + silence(0.8)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def talk(client: genai.Client, deadline: float, counts: dict[str, int]) -> None:
    """One agent: speak, hear the reply, resume with the latest handle whenever the connection ends."""
    handle: str | None = None
    while time.monotonic() < deadline:
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.AUDIO],
            session_resumption=types.SessionResumptionConfig(handle=handle),
            context_window_compression=types.ContextWindowCompressionConfig(sliding_window=types.SlidingWindow()),
            input_audio_transcription=types.AudioTranscriptionConfig(),
        )
        try:
            async with client.aio.live.connect(model=MODEL, config=config) as session:
                counts["connections"] += 1
                while time.monotonic() < deadline:
                    await paced_audio(session, UTTERANCE)
                    async for message in session.receive():
                        update = message.session_resumption_update
                        if update and update.resumable and update.new_handle:
                            handle = update.new_handle
                    counts["turns"] += 1
        except errors.APIError as error:
            counts[f"close {error.code}"] = counts.get(f"close {error.code}", 0) + 1
        except ConnectionClosed as closed:  # the SDK's send_* raise websockets' own exception
            code = closed.rcvd.code if closed.rcvd else 1006
            counts[f"close {code}"] = counts.get(f"close {code}", 0) + 1


async def paced_audio(session: Any, pcm: bytes, chunk_ms: int = 40) -> None:
    """Send audio at real-time pace, like a microphone."""
    step = 16000 * chunk_ms // 1000 * 2
    started = time.monotonic()
    for index, offset in enumerate(range(0, len(pcm), step)):
        await anyio.sleep(max(0.0, started + index * chunk_ms / 1000 - time.monotonic()))
        await send_audio(session, pcm[offset : offset + step])


async def soak(sessions: int, seconds: float, connection_limit_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        ca = Path(directory) / "ca.pem"
        command = [
            sys.executable, "-m", "runtime", "emulate", "--port", "0", "--ca-out", str(ca),
            "--go-away-after", str(connection_limit_s * 0.8), "--connection-limit", str(connection_limit_s),
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert process.stdout is not None
            port = int(process.stdout.readline().strip().rsplit(":", 1)[1])
            trust = ssl.create_default_context(cafile=str(ca))
            options = types.HttpOptions(base_url=f"https://127.0.0.1:{port}", async_client_args={"ssl": trust})
            client = genai.Client(api_key="soak", http_options=options)
            samples = [(0.0, rss_mib(process.pid))]
            counts: dict[str, int] = {"connections": 0, "turns": 0}
            started = time.monotonic()
            deadline = started + seconds
            async with anyio.create_task_group() as tg:
                for _ in range(sessions):
                    tg.start_soon(talk, client, deadline, counts)
                while time.monotonic() < deadline:
                    await anyio.sleep(min(10.0, max(0.1, deadline - time.monotonic())))
                    samples.append((time.monotonic() - started, rss_mib(process.pid)))
            cpu = cpu_s(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=10)
    return {"samples": samples, "counts": counts, "cpu_s": cpu, "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--connection-limit", type=float, default=20.0)
    args = parser.parse_args()
    result = anyio.run(soak, args.sessions, args.seconds, args.connection_limit)
    for at, rss in result["samples"]:
        print(f"t={at:6.1f} s  emulator RSS {rss:6.1f} MiB")
    print(result["counts"])
    print(f"emulator CPU: {result['cpu_s']:.1f} s over {result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
