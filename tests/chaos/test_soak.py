"""Hours of scaled conversation leave the daemon's memory, descriptors, threads and state directory flat.

The default run compresses 2 simulated hours into about a minute; `RUNTIME_SOAK_SECONDS=600` runs the full
soak (about 10 minutes) with the same assertions.
"""

from __future__ import annotations

import os

import pytest

from tests.chaos.soak import AGENTS, SoakResult, run_soak
from tests.chaos.suites import keep_result

SOAK_SECONDS = float(os.environ.get("RUNTIME_SOAK_SECONDS", "60"))
RSS_SLOPE_MIB_PER_H = 5.0
"""Growth allowed after warm-up, per simulated hour: a leak of one connection's buffers per handover (~10 per
agent-hour here) would exceed it."""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(SOAK_SECONDS + 120)]


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> SoakResult:
    result = run_soak(tmp_path_factory.mktemp("soak"), SOAK_SECONDS, simulated_hours=2.0)
    print("\n" + "\n".join(result.lines()))
    keep_result("soak", result)
    return result


def test_the_conversation_really_happened(soak: SoakResult) -> None:
    talk = soak.conversation
    assert talk.go_aways >= 10 * len(AGENTS), "the connection lifetime is scaled: handovers all the time"
    assert talk.turns >= 10 and talk.barge_ins >= 1 and talk.tool_calls >= 1, talk


def test_memory_stays_flat_after_warm_up(soak: SoakResult) -> None:
    assert soak.slope_per_simulated_hour("rss_mib") < RSS_SLOPE_MIB_PER_H


def test_no_descriptor_or_thread_leaks(soak: SoakResult) -> None:
    steady = soak.steady()
    assert soak.spread("fds") <= 6, [s.fds for s in steady]
    assert steady[-1].fds <= steady[0].fds + 2
    assert soak.spread("threads") <= 8, [s.threads for s in steady]
    assert steady[-1].threads <= steady[0].threads + 4


def test_the_state_directory_stays_bounded(soak: SoakResult) -> None:
    assert max(s.state_files for s in soak.samples) <= 2 * len(AGENTS)
    assert max(s.state_bytes for s in soak.samples) < 64 * 1024


def test_every_agent_still_runs(soak: SoakResult) -> None:
    assert soak.parked == [] and soak.daemon_alive
    assert soak.final_status == f"{len(AGENTS)} agents: {len(AGENTS)} running"
