"""Memory stays flat while many sessions talk and resume (slow: opt in with EMULATOR_SOAK_SECONDS=120)."""

from __future__ import annotations

import os

import pytest

from tests.emulator.soak import soak

pytestmark = [
    pytest.mark.slow,
    pytest.mark.anyio,
    pytest.mark.skipif("EMULATOR_SOAK_SECONDS" not in os.environ, reason="set EMULATOR_SOAK_SECONDS to run the soak"),
]


async def test_emulator_memory_stays_flat_over_a_soak_of_20_sessions() -> None:
    result = await soak(sessions=20, seconds=float(os.environ["EMULATOR_SOAK_SECONDS"]), connection_limit_s=20.0)
    samples = result["samples"]
    print(samples, result["counts"])
    warm = samples[len(samples) // 3][1]  # after start-up and the first reconnections
    assert samples[-1][1] - warm < 25  # MiB
    assert result["counts"]["turns"] > 20
