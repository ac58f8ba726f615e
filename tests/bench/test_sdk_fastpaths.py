"""`python -m bench.sdk_fastpaths` runs end to end and summarises as its docstring says; CPU figures are
printed, never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.sdk_fastpaths import MODES, report, summarise

REPO = Path(__file__).resolve().parents[2]


def test_the_ratio_to_none_is_taken_within_each_repetition() -> None:
    cpu = {0: {"none": 10.0, "receive": 8.0, "send": 9.0, "both": 6.0},
           1: {"none": 20.0, "receive": 17.0, "send": 16.0, "both": 11.0}}
    runs = [{"repetition": rep, "mode": mode, "cpu_percent": value}
            for rep, figures in cpu.items() for mode, value in figures.items()]
    modes = summarise(runs, reply_s=12)["modes"]
    assert modes["both"]["cpu_percent_median"] == 8.5
    assert (modes["both"]["cpu_percent_min"], modes["both"]["cpu_percent_max"]) == (6.0, 11.0)
    assert modes["both"]["ratio_to_none_median"] == pytest.approx((0.6 + 0.55) / 2)
    assert modes["none"]["ratio_to_none_median"] == 1.0


@pytest.mark.slow
def test_one_short_repetition_runs_every_mode_through_a_real_session(tmp_path: Path) -> None:
    out = tmp_path / "fastpaths.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.sdk_fastpaths", "--repetitions", "1", "--reply-s", "1", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=240,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    print(done.stdout)
    result = json.loads(out.read_text())
    assert set(result["modes"]) == set(MODES)
    assert all(run["audio_bytes"] > 0 and run["malformed"] == 0 for run in result["runs"])
    assert report(result) in done.stdout
