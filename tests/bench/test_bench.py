"""`python -m bench --quick` keeps working and keeps its report's shape; timings are printed, never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.analysis import DeviceLog, frame_accounting, uplink_ms
from bench.markers import MarkerScanner, numbered_blocks

REPO = Path(__file__).resolve().parents[2]
PERCENTILES = ("p50", "p95", "p99")
COUNTS = ("1", "4", "16")
METRIC_KEYS = (
    "uplink_added_ms",
    "downlink_added_ms",
    "interrupt_to_silence_ms",
    "underruns",
    "handover",
    "cpu_pct",
    "cpu_pct_spread",
    "rss_mb",
    "cold_start_s",
    "reload_s",
    "validate_100_s",
    "help_s",
)


def test_markers_are_found_whatever_the_chunking() -> None:
    pcm = numbered_blocks(250, 40, 320, 16_000, tone_amplitude=6000).tobytes()
    scanner = MarkerScanner()
    found: list[tuple[int, int]] = []
    sizes = iter(np.random.default_rng(1).integers(1, 900, size=10_000).tolist())
    while pcm:
        size = 2 * next(sizes)
        piece, pcm = pcm[:size], pcm[size:]
        found += scanner.feed(piece)
    assert found == [(n * 320, 250 + n) for n in range(40)]


def record(conn: int, mono: float, first: int, count: int) -> dict[str, Any]:
    import base64

    data = base64.urlsafe_b64encode(numbered_blocks(first, count, 320, 16_000).tobytes()).decode()
    return {"conn": conn, "mono": mono, "msg": {"realtime_input": {"audio": {"data": data}}}}


def test_lost_and_duplicated_frames_are_counted_across_connections() -> None:
    log = DeviceLog(mic_ready={index: index * 0.02 for index in range(100)}, t_end=10.0)
    records = [record(1, 0.5, 0, 30), record(2, 1.0, 28, 10), record(2, 1.5, 40, 60)]  # 28, 29 twice; 38, 39 lost
    assert frame_accounting(records, log) == (2, 2)
    assert len(uplink_ms(records, log)) == 98


def check_client(figures: dict[str, Any], name: str, measured: bool) -> None:
    for key in METRIC_KEYS:
        assert key in figures, f"{name} lacks {key}"
    for key in ("uplink_added_ms", "downlink_added_ms", "interrupt_to_silence_ms"):
        assert set(PERCENTILES) <= set(figures[key]), f"{name}.{key}: {figures[key]}"
    assert {"lost_frames", "duplicated_frames", "speaker_gap_ms"} <= set(figures["handover"])
    assert {"count", "silence_ms", "client_counter"} <= set(figures["underruns"]), figures["underruns"]
    for key in ("cpu_pct", "cpu_pct_spread", "rss_mb"):
        assert set(COUNTS) <= set(figures[key]), f"{name}.{key}: {figures[key]}"
    if measured:  # the harness really measured this client (the values themselves are not judged)
        for key in ("uplink_added_ms", "downlink_added_ms"):
            assert all(isinstance(figures[key][p], float) for p in PERCENTILES), f"{name}.{key}: {figures[key]}"
        assert isinstance(figures["handover"]["lost_frames"], int), figures["handover"]
        assert isinstance(figures["underruns"]["count"], int), figures["underruns"]
        assert all(isinstance(figures["cpu_pct"][n], float) for n in COUNTS), figures["cpu_pct"]
        for n in COUNTS:  # the median window lies within the spread of the windows
            low, high = figures["cpu_pct_spread"][n]
            assert low <= figures["cpu_pct"][n] <= high, (figures["cpu_pct"], figures["cpu_pct_spread"])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_bench_writes_every_key(tmp_path: Path) -> None:
    out, report = tmp_path / "bench.json", tmp_path / "bench.md"
    env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out), "--markdown", str(report)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=580,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    print(json.dumps({key: result[key] for key in METRIC_KEYS}, indent=1))
    assert result["quick"] is True
    assert {"cpu_model", "cores", "python", "load_average"} <= set(result["machine"])
    assert result["cpu_windows"]["count"] >= 3
    check_client(result, "runtime", measured=True)
    check_client(result["baselines"]["quickstart"], "quickstart", measured=True)
    check_client(result["baselines"]["pipecat"], "pipecat", measured=False)
    variant = result["baselines"]["runtime-40ms"]  # 40 ms microphone blocks: its latency runs in a quick run too
    check_client(variant, "runtime-40ms", measured=False)
    assert all(isinstance(variant["uplink_added_ms"][p], float) for p in PERCENTILES), variant["uplink_added_ms"]
    assert variant["cpu_pct"]["available"] is False, "its load is measured in the full run only"
    assert isinstance(result["help_s"], float) and isinstance(result["validate_100_s"], float)
    text = report.read_text()
    assert "| p95 |" in text and "Underruns are counted one way for every client" in text
    assert (tmp_path / "bench-latency.png").stat().st_size > 0
