"""CPU of an idle `wake_word` agent: `runtime run` with one agent listening for its wake word, nothing said.

    .venv/bin/python -m bench.idle [--seconds 20] [--noise-dbfs -50]

The agent's microphone is a silent WAV file (`file:` device: blocks at real-time pace, then silence forever),
its speaker a WAV file; the detector runs on every block and the Live session stays closed, as between two
conversations. After READY=1 and 3 s of settling, the daemon process's CPU time (all threads, psutil) is read
over `--seconds`: the figure is % of one core. The emulator runs in this process (it sees no connection).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

from bench.runs import Unavailable, child_env
from bench.startup import runtime_command, silent_wav, wait_ready

AGENT = """\
name: idle
model: gemini-2.5-flash-native-audio-preview-12-2025
instructions: You are the bench's idle agent.
activity: {{mode: wake_word}}
audio:
  input: {{device: "file:{mic}"}}
  output: {{device: "file:{out}"}}
"""


def idle_wake_word_pct(
    seconds: float, settle_s: float = 3.0, profile: Path | None = None, noise_dbfs: float | None = None
) -> dict[str, Any]:
    """{"cpu_pct": % of one core, "rss_mb": resident memory} of the idle daemon over `seconds`; with `profile`,
    py-spy records the window there (collapsed stacks of the thread holding the GIL). `noise_dbfs`: the
    microphone hears white noise at that level (a fan, a fridge) instead of a silent room."""
    import psutil  # type: ignore[import-untyped]

    from runtime.emulator import EmulatorOptions, EmulatorThread

    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp, EmulatorThread(EmulatorOptions()) as emu:
        root = Path(tmp)
        agents, notify_path = root / "agents", root / "notify.sock"
        agents.mkdir()
        if noise_dbfs is None:
            silent_wav(root / "mic.wav", 1.0)
        else:  # enough noise for start-up, settling and the window (a file microphone is silent after its end)
            noise_wav(root / "mic.wav", settle_s + seconds + 60.0, noise_dbfs)
        (agents / "idle.yaml").write_text(AGENT.format(mic=root / "mic.wav", out=root / "out.wav"))
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(notify_path))
        env = child_env() | {"NOTIFY_SOCKET": str(notify_path), "GEMINI_API_KEY": "bench-key"}
        command = [*runtime_command(), "run", str(agents), "--backend", "gemini", "--base-url", emu.base_url]
        command += ["--ca-file", str(emu.ca_file), "--state-dir", str(root / "state")]
        log = (root / "daemon.log").open("w")
        process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
        try:
            wait_ready(notify, process, 60)
            time.sleep(settle_s)  # a measurement window, not synchronisation
            watched = psutil.Process(process.pid)
            messages = len(emu.sent)
            before, started = watched.cpu_times(), time.monotonic()
            if profile is None:
                time.sleep(seconds)  # the measurement window
            elif profile.suffix == ".data":  # perf, for native code (the detector's TFLite, numpy)
                record = ["perf", "record", "-F", "999", "-g", "-p", str(process.pid), "-o", str(profile)]
                subprocess.run([*record, "--", "sleep", str(seconds)], check=True, capture_output=True)
            else:
                record = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(process.pid), "--gil"]
                record += ["--duration", str(int(seconds)), "--rate", "500", "--nonblocking", "--threads"]
                subprocess.run([*record, "--format", "raw", "--output", str(profile)], check=True, capture_output=True)
            after, elapsed = watched.cpu_times(), time.monotonic() - started
            if len(emu.sent) != messages:
                raise Unavailable("the idle agent talked to the Live service while measured")
            busy = after.user + after.system - before.user - before.system
            return {"cpu_pct": round(100 * busy / elapsed, 2), "rss_mb": round(watched.memory_info().rss / 2**20, 1)}
        except Unavailable as why:
            tail = (root / "daemon.log").read_text().strip().splitlines()[-2:]
            raise Unavailable(f"{why}; the daemon said: {' | '.join(tail)}"[:400]) from None
        finally:
            process.kill()
            process.wait()
            notify.close()
            log.close()


def noise_wav(path: Path, seconds: float, dbfs: float) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    samples = rng.normal(0.0, 32768 * 10 ** (dbfs / 20), int(seconds * 16_000))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--noise-dbfs", type=float, help="white noise at this level instead of silence (e.g. -50)")
    parser.add_argument("--profile", type=Path, metavar="FILE", help="py-spy's collapsed stacks of the window")
    args = parser.parse_args(argv)
    print(json.dumps(idle_wake_word_pct(args.seconds, profile=args.profile, noise_dbfs=args.noise_dbfs)))
    if args.profile and args.profile.suffix != ".data":
        from bench.profile import summary

        print(summary(args.profile.read_text(), 25))
    return 0


if __name__ == "__main__":
    sys.exit(main())
