"""The starved-CPU case's pieces that need no cgroup: its report table, its cgroup counters, its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import starved
from bench.report import starved_table
from bench.runs import Unavailable
from bench.stats import unavailable


def test_a_measured_case_gets_one_row_per_figure() -> None:
    figures = {
        "quota_pct": 18.0, "throttled_periods": 40, "lost_frames": 0, "duplicated_frames": 0,
        "underruns": {"count": 0, "silence_ms": 0, "client_counter": 0}, "reconnects": 0,
        "interrupt_to_silence_ms": {"p50": 14.1, "p95": 23.9, "p99": 23.9, "n": 18},
        "uplink_added_ms": {"p50": 2.7, "p95": 7.2, "p99": 8.4, "n": 2692},
        "downlink_added_ms": {"p50": 13.6, "p95": 23.3, "p99": 24.8, "n": 719},
    }
    text = "\n".join(starved_table(figures))

    assert "| microphone blocks lost | 0 |" in text
    assert "| periods throttled by the quota | 40 |" in text
    assert "| interrupt to silence p50 / p95, ms | 14.1 / 23.9 |" in text


def test_a_case_that_could_not_run_says_why() -> None:
    text = "\n".join(starved_table(unavailable("full run only (python -m bench without --quick)")))

    assert "n/a (full run only (python -m bench without --quick))" in text


def test_throttled_periods_come_from_cpu_stat(tmp_path: Path) -> None:
    stat = tmp_path / "cpu.stat"
    stat.write_text("nr_periods 120\nnr_throttled 37\nthrottled_time 912345\n")

    assert starved._stat(stat, "nr_throttled") == 37
    assert starved._stat(tmp_path / "missing", "nr_throttled") is None


def test_no_quota_without_a_measured_cpu_figure() -> None:
    with pytest.raises(Unavailable, match="no CPU for one agent"):
        starved.starved_figures(unavailable("the load run failed"), quick=False)
