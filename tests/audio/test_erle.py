"""The ERLE meter's arithmetic, without a canceller."""

from __future__ import annotations

import pytest

from runtime.audio.erle import ErleMeter


def test_no_estimate_before_half_a_second_of_echo_has_been_heard() -> None:
    meter = ErleMeter(block_ms=20)
    for _ in range(24):
        meter.add(1e6, 1e3)
    assert meter.erle_db is None
    meter.add(1e6, 1e3)
    assert meter.erle_db == pytest.approx(30.0)


def test_the_estimate_follows_a_changed_echo_path_within_its_window() -> None:
    meter = ErleMeter(block_ms=20, window_s=2.0)
    for _ in range(200):
        meter.add(1e6, 1e2)
    assert meter.erle_db == pytest.approx(40.0, abs=0.1)
    for _ in range(500):  # ten seconds: five time constants
        meter.add(1e6, 1e5)
    assert meter.erle_db == pytest.approx(10.0, abs=0.5)


def test_a_canceller_that_removed_everything_is_measured_against_one_bit_not_zero() -> None:
    meter = ErleMeter(block_ms=10, settle_s=0.01)
    meter.add(1e8, 0.0)
    assert meter.erle_db == pytest.approx(80.0)
