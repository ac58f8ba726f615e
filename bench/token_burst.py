"""A fleet reconnecting at once: N devices ask `runtime token-server` for a locked token in the same instant.

    .venv/bin/python -m bench.token_burst [--devices 100] [--rounds 3] [--tls] [--json out.json]

The service runs as its own process (per-device credentials, `--agents`, the default rate limit) and mints from
the project's emulator (in this process, on 127.0.0.1); each device is a thread that waits at a barrier, then
POSTs once. Measured per burst: each request's latency (p50, p95, max), the burst's wall time, and the CPU the
service process used (user + system, from /proc via psutil). The first burst is cold: the service has just
started and checks every device's scrypt hash once; the later ones are warm (a device's check is remembered):
the usual case, every device reconnecting after a network outage while the service keeps running.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from runtime.emulator import EmulatorOptions, EmulatorThread
from runtime.emulator.tls import write_self_signed
from runtime.live.token_devices import add_device
from tests.daemon.harness import make_agents

API_KEY = "bench-long-lived-key"


def _post(url: str, credential: str, context: ssl.SSLContext | None) -> tuple[int, float]:
    request = urllib.request.Request(url, data=json.dumps({"agent": "kitchen"}).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {credential}"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120, context=context) as answer:
            status = int(answer.status)
            answer.read()
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError):
        status = 0  # no answer: the connection was refused, reset or timed out
    return status, (time.perf_counter() - started) * 1000


def burst(url: str, credentials: list[str], context: ssl.SSLContext | None, service: psutil.Process
          ) -> dict[str, Any]:
    barrier = threading.Barrier(len(credentials) + 1)
    results: list[tuple[int, float]] = []
    lock = threading.Lock()

    def device(credential: str) -> None:
        barrier.wait()
        outcome = _post(url, credential, context)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=device, args=(credential,)) for credential in credentials]
    for thread in threads:
        thread.start()
    cpu_before = service.cpu_times()
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    wall_s = time.perf_counter() - started
    cpu_after = service.cpu_times()
    cpu_s = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    latencies = sorted(ms for _, ms in results)
    return {
        "devices": len(credentials),
        "ok": sum(1 for status, _ in results if status == 200),
        "statuses": sorted({status for status, _ in results}),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "max_ms": round(latencies[-1], 1),
        "wall_s": round(wall_s, 2),
        "service_cpu_s": round(cpu_s, 2),
        "service_cpu_ms_per_token": round(cpu_s * 1000 / max(1, len(latencies)), 1),
    }


def run(devices: int, rounds: int, tls: bool, workdir: Path) -> dict[str, Any]:
    agents = make_agents(workdir / "agents", ["kitchen"])
    devices_file = workdir / "devices"
    credentials = [add_device(devices_file, f"pi-{number:03d}", ["kitchen"]) for number in range(devices)]
    extra: list[str] = []
    context = None
    if tls:
        cert, key = write_self_signed(workdir)
        extra = ["--tls-cert", str(cert), "--tls-key", str(key)]
        context = ssl.create_default_context(cafile=str(cert))
    with EmulatorThread(EmulatorOptions(port=0, api_key=API_KEY, keep_history=False)) as emulator:
        env = {**os.environ, "GEMINI_API_KEY": API_KEY, "NO_PROXY": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "runtime", "token-server", "--port", "0", "--devices", str(devices_file),
             "--agents", str(agents), "--base-url", emulator.base_url, "--ca-file", str(emulator.ca_file), *extra],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert process.stdout is not None
            found = re.search(r"https?://\S+/token", process.stdout.readline())
            assert found, "the token server did not start"
            service = psutil.Process(process.pid)
            bursts = [burst(found.group(0), credentials, context, service) for _ in range(rounds)]
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(15)
    return {"devices": devices, "tls": tls, "cpus": os.cpu_count(), "load_avg": os.getloadavg(),
            "cold": bursts[0], "warm": bursts[1:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="bursts: the first cold, the others warm")
    parser.add_argument("--tls", action="store_true", help="the service serves HTTPS (--tls-cert/--tls-key)")
    parser.add_argument("--json", type=Path, help="write the figures there too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        report = run(args.devices, max(2, args.rounds), args.tls, Path(workdir))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
